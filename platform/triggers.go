package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wskx/wskx/whisk"
)

// OpenWhisk's messages for triggers and rules (http/ErrorResponse.scala
// Messages, and the controller's Triggers.scala and Rules.scala).
const (
	msgOtherCollection = "Resource by this name exists but is not in this collection."
	msgFeedInvalid     = "Feed name is not valid"
	msgInternalError   = "There was an internal server error."
	msgProcessingError = "There was an error processing your request."
	// msgEntityMalformed prefixes what akka-http (pekko) answers for a body
	// it cannot read (RejectionHandler.default, MalformedRequestContentRejection).
	msgEntityMalformed = "The request content was malformed:\n"
)

// triggerWithInactiveRule is Messages.triggerWithInactiveRule.
func triggerWithInactiveRule(rule, action string) string {
	return fmt.Sprintf("Rule '%s' is inactive, action '%s' was not activated.", rule, action)
}

// entityTooBig is Messages.entityTooBig for a field of an entity, answered
// with 413.
func entityTooBig(field string, size, limit int) string {
	return fmt.Sprintf("%s larger than allowed: %d > %d bytes.", field, size, limit)
}

// simpleName validates the {name} of a trigger or rule path; msg says
// what is wrong with it otherwise.
func simpleName(r *http.Request) (name, msg string) {
	name = r.PathValue("name")
	if len(name) > maxNameLength {
		return "", nameTooLong("Name segement", len(name))
	}
	if !validName(name) {
		return "", msgNameIllegal
	}
	return name, ""
}

// nameTakenElsewhere reports whether ns/name is an entity of another
// collection than coll; the caller holds p.ev.mu. Actions at the top of a namespace, triggers and
// rules share their names there, being documents of one database
// (WhiskEntity docids); using one through another collection is a
// conflict (ApiUtils getEntity and putEntity, DocumentTypeMismatchException).
func (p *Platform) nameTakenElsewhere(ns, name, coll string) bool {
	if coll != "actions" {
		if _, ok := p.store.getAction(ns, name); ok {
			return true
		}
	}
	key := ns + "/" + name
	if _, ok := p.ev.triggers[key]; ok && coll != triggersDir {
		return true
	}
	if _, ok := p.ev.rules[key]; ok && coll != rulesDir {
		return true
	}
	return false
}

// semVer is v as OpenWhisk's SemVer reads and writes it: up to three
// whole numbers, the missing ones 0, more ignored ("1" is "1.0.0"), not
// all zero; false for a malformed version.
func semVer(v string) (string, bool) {
	var n [3]int
	parts := strings.Split(v, ".")
	for i := range n {
		if i >= len(parts) || v == "" {
			break
		}
		x, err := strconv.Atoi(parts[i])
		if err != nil || x < 0 {
			return "", false
		}
		n[i] = x
	}
	if n == [3]int{} {
		return "", false
	}
	return fmt.Sprintf("%d.%d.%d", n[0], n[1], n[2]), true
}

// triggerBody is what a trigger PUT may set (WhiskTriggerPut); limits
// are read and ignored, OpenWhisk's trigger limits having no field.
type triggerBody struct {
	Parameters  whisk.KeyValues `json:"parameters"`
	Annotations whisk.KeyValues `json:"annotations"`
	Version     *string         `json:"version"`
	Publish     *bool           `json:"publish"`
}

// readEntityBody decodes a PUT body of at most limit bytes into v; an
// empty body is an empty entity. It answers the request when it fails.
func readEntityBody(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body, ok := readBody(w, r, limit)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		writeError(w, r, http.StatusBadRequest, msgEntityMalformed+err.Error())
		return false
	}
	return true
}

// sizeChecks answers 413 when parameters or annotations are over
// OpenWhisk's limit for them (Parameters.sizeLimit).
func sizeChecks(w http.ResponseWriter, r *http.Request, params, annotations whisk.KeyValues) bool {
	for _, f := range []struct {
		name string
		kv   whisk.KeyValues
	}{{"parameters", params}, {"annotations", annotations}} {
		if n := paramsSize(f.kv); f.kv != nil && n > maxPayload {
			writeError(w, r, http.StatusRequestEntityTooLarge, entityTooBig(f.name, n, maxPayload))
			return false
		}
	}
	return true
}

// validEntityPath is EntityPath.validate: segments that are entity names,
// empty ones (extra slashes) ignored.
func validEntityPath(s string) bool {
	n := 0
	for _, seg := range strings.Split(s, "/") {
		if seg == "" {
			continue
		}
		if !validName(seg) {
			return false
		}
		n++
	}
	return n > 0
}

// putTrigger creates or updates a trigger as Triggers.scala create and
// update do: an update keeps what the body leaves out, and the rules.
func (p *Platform) putTrigger(w http.ResponseWriter, r *http.Request) {
	name, msg := simpleName(r)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return
	}
	var b triggerBody
	if !readEntityBody(w, r, 2*maxPayload+(1<<20), &b) || !sizeChecks(w, r, b.Parameters, b.Annotations) {
		return
	}
	version := ""
	if b.Version != nil {
		v, ok := semVer(*b.Version)
		if !ok {
			writeError(w, r, http.StatusBadRequest, msgEntityMalformed+"semantic version malformed")
			return
		}
		version = v
	}
	ns := userOf(r).Namespace
	e := p.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.nameTakenElsewhere(ns, name, triggersDir) {
		writeError(w, r, http.StatusConflict, msgOtherCollection)
		return
	}
	old := e.triggers[ns+"/"+name]
	if old != nil && r.URL.Query().Get("overwrite") != "true" {
		writeError(w, r, http.StatusConflict, msgExists)
		return
	}
	t := &whisk.Trigger{Namespace: ns, Name: name, Version: "0.0.1", Limits: &whisk.TriggerLimits{},
		Annotations: whisk.KeyValues{}, Parameters: whisk.KeyValues{}}
	if old != nil {
		cp := *old
		t = &cp
		t.Version = bumpVersion(old.Version)
	}
	if version != "" {
		t.Version = version
	}
	if b.Parameters != nil {
		t.Parameters = b.Parameters
	}
	if b.Annotations != nil {
		t.Annotations = b.Annotations
	}
	if b.Publish != nil {
		t.Publish = *b.Publish
	}
	// Only a new trigger's feed is checked (validateTriggerFeed).
	if feed := t.Annotations.Get("feed"); old == nil && feed != nil {
		if s, ok := feed.(string); !ok || !validEntityPath(s) {
			writeError(w, r, http.StatusBadRequest, msgFeedInvalid)
			return
		}
	}
	t.Updated = time.Now().UnixMilli()
	if err := e.putTrigger(t); err != nil {
		p.log.Error("put trigger", "err", err)
		writeError(w, r, http.StatusInternalServerError, msgProcessingError)
		return
	}
	writeJSONResponse(w, http.StatusOK, t)
}

// lookupTrigger finds the trigger of the path; the caller holds p.ev.mu.
// It answers the request when there is none.
func (p *Platform) lookupTrigger(w http.ResponseWriter, r *http.Request) (*whisk.Trigger, bool) {
	return lookupEvent(p, w, r, p.ev.triggers, triggersDir)
}

// lookupEvent finds the trigger or rule of the path in m, keyed
// "ns/name"; the caller holds p.ev.mu. When there is none it answers the
// request: 404, or 409 when another collection has the name.
func lookupEvent[T any](p *Platform, w http.ResponseWriter, r *http.Request, m map[string]*T, collection string) (*T, bool) {
	name, msg := simpleName(r)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return nil, false
	}
	ns := userOf(r).Namespace
	e, ok := m[entityKey(ns, name)]
	if !ok {
		if p.nameTakenElsewhere(ns, name, collection) {
			writeError(w, r, http.StatusConflict, msgOtherCollection)
		} else {
			writeError(w, r, http.StatusNotFound, msgNotFound)
		}
		return nil, false
	}
	return e, true
}

func (p *Platform) getTrigger(w http.ResponseWriter, r *http.Request) {
	p.ev.mu.Lock()
	t, ok := p.lookupTrigger(w, r)
	p.ev.mu.Unlock()
	if ok {
		writeJSONResponse(w, http.StatusOK, t)
	}
}

// deleteTrigger deletes the trigger only: its rules stay, inactive until
// a trigger of that name links them again, and its feed is the client's
// to end (Triggers.scala remove; wsk trigger delete calls the feed first).
func (p *Platform) deleteTrigger(w http.ResponseWriter, r *http.Request) {
	e := p.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := p.lookupTrigger(w, r)
	if !ok {
		return
	}
	if err := e.removeTrigger(t.Namespace, t.Name); err != nil {
		p.log.Error("delete trigger", "err", err)
		writeError(w, r, http.StatusInternalServerError, msgProcessingError)
		return
	}
	writeJSONResponse(w, http.StatusOK, t)
}

// countQuery reports whether a list asks for a count (?count=true), and
// answers it: {"<collection>": n}, skip applied (countEntities).
func countQuery(w http.ResponseWriter, r *http.Request, collection string, total, skip int) bool {
	if r.URL.Query().Get("count") != "true" {
		return false
	}
	writeJSONResponse(w, http.StatusOK, map[string]int{collection: max(0, total-skip)})
	return true
}

// listPage answers a list request's refusals and its count=true itself,
// false then; else it returns the page of all the request asks for, last
// updated first as OpenWhisk's views answer.
func listPage[T any](w http.ResponseWriter, r *http.Request, collection string, all []T, updated func(T) int64, name func(T) string) ([]T, bool) {
	limit, skip, _, msg := listParams(r, collection)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return nil, false
	}
	if countQuery(w, r, collection, len(all), skip) {
		return nil, false
	}
	byUpdate(all, updated, name)
	return page(all, limit, skip), true
}

// byUpdate orders a list as OpenWhisk's views answer it: last updated
// first.
func byUpdate[T any](all []T, updated func(T) int64, name func(T) string) {
	sort.Slice(all, func(i, j int) bool {
		if ui, uj := updated(all[i]), updated(all[j]); ui != uj {
			return ui > uj
		}
		return name(all[i]) < name(all[j])
	})
}

// listTriggers lists as the triggers view does: no parameters, limits
// nor rules.
func (p *Platform) listTriggers(w http.ResponseWriter, r *http.Request) {
	ns := userOf(r).Namespace
	var all []*whisk.Trigger
	p.ev.mu.Lock()
	for _, t := range p.ev.triggers {
		if t.Namespace == ns {
			all = append(all, t)
		}
	}
	p.ev.mu.Unlock()
	list, ok := listPage(w, r, triggersDir, all, func(t *whisk.Trigger) int64 { return t.Updated }, func(t *whisk.Trigger) string { return t.Name })
	if !ok {
		return
	}
	out := []whisk.Trigger{}
	for _, t := range list {
		out = append(out, whisk.Trigger{Namespace: t.Namespace, Name: t.Name, Version: t.Version, Publish: t.Publish,
			Annotations: t.Annotations, Updated: t.Updated})
	}
	writeJSONResponse(w, http.StatusOK, out)
}

// fireTrigger fires a trigger as Triggers.scala activate does: without an
// active rule, 204 and no record; else 202 with the id of a trigger
// activation at once, while the rules' actions are invoked and the record
// (result: the payload; logs: one line per rule) is stored.
func (p *Platform) fireTrigger(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, maxPayload)
	if !ok {
		return
	}
	var payload object
	// A JSON null is no payload, as an empty body is.
	if t := bytes.TrimSpace(body); len(t) > 0 && string(t) != "null" {
		if payload, ok = asObject(body); !ok {
			writeError(w, r, http.StatusBadRequest, msgEntityMalformed+"JSON object expected")
			return
		}
	}
	p.ev.mu.Lock()
	t, ok := p.lookupTrigger(w, r)
	p.ev.mu.Unlock()
	if !ok {
		return
	}
	if !slices.ContainsFunc(sortedRules(t), func(rl namedRule) bool { return rl.Status == whisk.RuleActive }) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// The rules' actions get the request's headers as __ow_headers under
	// the payload, over the trigger's parameters.
	headers := map[string]string{"host": r.Host}
	for k, vs := range r.Header {
		if len(vs) > 0 {
			headers[strings.ToLower(k)] = vs[len(vs)-1]
		}
	}
	args := merge(paramsObject(t.Parameters), merge(object{"__ow_headers": mustJSON(headers)}, payload))
	if payload == nil {
		payload = object{}
	}
	u := userOf(r)
	rec := &whisk.Activation{Namespace: u.Namespace, Name: t.Name, Version: t.Version, Subject: u.Namespace,
		ActivationID: newID(), Start: time.Now().UnixMilli(), Annotations: whisk.KeyValues{},
		Response: whisk.Response{Status: whisk.StatusSuccess, Success: true, Result: mustJSON(payload)}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		rec.Logs = p.activateRules(p.ctx, u, args, sortedRules(t))
		if p.ctx.Err() != nil {
			return
		}
		if err := p.store.putActivation(rec); err != nil {
			p.log.Error("store trigger activation", "id", rec.ActivationID, "err", err)
		}
	}()
	w.Header().Set(whisk.ActivationIDHeader, rec.ActivationID)
	writeJSONResponse(w, http.StatusAccepted, map[string]string{"activationId": rec.ActivationID})
}

// namedRule is a trigger's link to one rule.
type namedRule struct {
	name string // "ns/rule"
	whisk.ReducedRule
}

func sortedRules(t *whisk.Trigger) []namedRule {
	out := make([]namedRule, 0, len(t.Rules))
	for name, rl := range t.Rules {
		out = append(out, namedRule{name, rl})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// ruleResult is a trigger activation's log line for one rule, its fields
// in the order OpenWhisk writes them (RuleActivationResult.toJson).
type ruleResult struct {
	StatusCode   int    `json:"statusCode"`
	Success      bool   `json:"success"`
	ActivationID string `json:"activationId,omitempty"`
	Error        string `json:"error,omitempty"`
	Rule         string `json:"rule"`
	Action       string `json:"action"`
}

// activateRules invokes the action of each active rule, non-blocking and
// as the user, with args; an inactive rule gets a line of its own
// (Triggers.scala activateRules). The action activations have no cause,
// as in OpenWhisk (WskRuleTests: the action activation's cause is None).
func (p *Platform) activateRules(ctx context.Context, u User, args object, rules []namedRule) []string {
	body := mustJSON(args)
	logs := make([]string, 0, len(rules))
	for _, rl := range rules {
		res := ruleResult{Rule: rl.name, Action: rl.Action.String()}
		if rl.Status != whisk.RuleActive {
			res.StatusCode, res.Error = 1, triggerWithInactiveRule(rl.name, rl.Action.String())
		} else {
			root, pkg, _ := strings.Cut(rl.Action.Path, "/")
			segs := []string{"api", "v1", "namespaces", root, "actions"}
			if pkg != "" {
				segs = append(segs, pkg)
			}
			status, answer := p.selfRequest(ctx, http.MethodPost, escapedPath(append(segs, rl.Action.Name)...), u.Key, body)
			var out struct {
				ActivationID string `json:"activationId"`
				Error        string `json:"error"`
			}
			parsed := json.Unmarshal(answer, &out) == nil
			switch {
			case (status == http.StatusOK || status == http.StatusAccepted) && out.ActivationID != "":
				res.Success, res.ActivationID = true, out.ActivationID
			case status >= 500:
				// All 500s are whisk errors, the others the user's.
				res.StatusCode = 3
			default:
				res.StatusCode = 1
			}
			if !res.Success {
				res.Error = out.Error
				if !parsed || out.Error == "" {
					res.Error = msgInternalError
				}
			}
		}
		b, _ := json.Marshal(res)
		logs = append(logs, string(b))
	}
	return logs
}
