package platform

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/wskx/wskx/whisk"
)

// OpenWhisk's messages for rules (Rules.scala, Messages).
const (
	msgRuleNeedsBoth      = "rule requires a valid trigger and a valid action"
	msgRuleNoTrigger      = "Only rules with existing triggers can be activated"
	msgMalformedQualified = "The fully qualified name of the entity must contain at least the namespace and the name of the entity."
)

// ruleBody is what a rule PUT may set (WhiskRulePut).
type ruleBody struct {
	Trigger     json.RawMessage `json:"trigger"`
	Action      json.RawMessage `json:"action"`
	Version     *string         `json:"version"`
	Publish     *bool           `json:"publish"`
	Annotations whisk.KeyValues `json:"annotations"`
}

// readQualified reads a rule's trigger or action as
// FullyQualifiedEntityName.serdes does: "/ns/[pkg/]name" (the leading
// slash optional, "ns/name" being read so too) or {"path", "name"};
// a namespace "_" is the caller's (WhiskRulePut.resolve). msg is the
// reason it is malformed.
func readQualified(raw json.RawMessage, callerNS string) (q whisk.QualifiedName, msg string) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		var parts []string
		for _, p := range strings.Split(s, "/") {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) == 0 {
			return q, "requirement failed: path undefined"
		}
		for _, p := range parts {
			if !validName(p) {
				return q, fmt.Sprintf("requirement failed: path contains invalid parts ArraySeq(%s)", strings.Join(parts, ", "))
			}
		}
		if len(parts) < 2 {
			return q, "requirement failed: " + msgMalformedQualified
		}
		q = whisk.QualifiedName{Path: strings.Join(parts[:len(parts)-1], "/"), Name: parts[len(parts)-1]}
	} else if err := json.Unmarshal(raw, &q); err != nil || !validEntityPath(q.Path) || !validName(q.Name) {
		return q, "fully qualified name malformed"
	}
	if root, rest, _ := strings.Cut(q.Path, "/"); root == "_" {
		q.Path = strings.TrimSuffix(callerNS+"/"+rest, "/")
	}
	return q, ""
}

// entityKey is how triggers and rules are keyed, and a rule names itself in
// its trigger: "ns/name".
func entityKey(ns, name string) string { return ns + "/" + name }

// ruleStatus is the rule's status as its trigger records it, inactive
// when the trigger or the link is missing (Rules.scala getStatus); the
// caller holds p.ev.mu.
func (p *Platform) ruleStatus(r *whisk.Rule) string {
	if t := p.ev.triggers[r.Trigger.String()]; t != nil {
		if rl, ok := t.Rules[entityKey(r.Namespace, r.Name)]; ok {
			return rl.Status
		}
	}
	return whisk.RuleInactive
}

// withStatus is the rule as the API answers it (WhiskRuleResponse).
func withStatus(r *whisk.Rule, status string) *whisk.Rule {
	cp := *r
	cp.Status = status
	return &cp
}

// linked returns t with the rule key linked as rl, or unlinked when rl is
// nil; t itself is left as it is (see events).
func linked(t *whisk.Trigger, key string, rl *whisk.ReducedRule) *whisk.Trigger {
	cp := *t
	cp.Rules = maps.Clone(t.Rules)
	if rl == nil {
		delete(cp.Rules, key)
		if cp.Rules == nil {
			cp.Rules = map[string]whisk.ReducedRule{}
		}
		return &cp
	}
	if cp.Rules == nil {
		cp.Rules = map[string]whisk.ReducedRule{}
	}
	cp.Rules[key] = *rl
	return &cp
}

// ruleEntitled reports whether user namespace ns may read the entity q
// refers to: its own, or the system catalog's, which OpenWhisk publishes.
func ruleEntitled(ns string, q whisk.QualifiedName) bool {
	root, _, _ := strings.Cut(q.Path, "/")
	return root == ns || root == systemNamespace
}

// checkRuleRefs is checkTriggerAndActionExist: the trigger, then the
// action; the caller holds p.ev.mu.
func (p *Platform) checkRuleRefs(trigger, action whisk.QualifiedName) (*whisk.Trigger, string) {
	t := p.ev.triggers[trigger.String()]
	if t == nil {
		return nil, "trigger /" + trigger.String() + " does not exist"
	}
	if !p.actionExists(action) {
		return nil, "action /" + action.String() + " does not exist"
	}
	return t, ""
}

// actionExists reports whether q names an action: in the store, or one
// of the feed actions the platform runs itself.
func (p *Platform) actionExists(q whisk.QualifiedName) bool {
	if _, ok := p.store.getAction(q.Path, q.Name); ok {
		return true
	}
	_, ok := feedActionOf(q)
	return ok
}

// putRule creates or updates a rule as Rules.scala create and update do:
// a new rule is linked to its trigger as active; an update keeps the
// rule's status, moving its link when the trigger changes.
func (p *Platform) putRule(w http.ResponseWriter, r *http.Request) {
	name, msg := simpleName(r)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return
	}
	var b ruleBody
	if !readEntityBody(w, r, maxPayload+(1<<20), &b) || !sizeChecks(w, r, nil, b.Annotations) {
		return
	}
	ns := userOf(r).Namespace
	var trig, act *whisk.QualifiedName
	for _, f := range []struct {
		raw json.RawMessage
		dst **whisk.QualifiedName
	}{{b.Trigger, &trig}, {b.Action, &act}} {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		q, msg := readQualified(f.raw, ns)
		if msg != "" {
			writeError(w, r, http.StatusBadRequest, msgEntityMalformed+msg)
			return
		}
		if !ruleEntitled(ns, q) {
			writeError(w, r, http.StatusForbidden, fmt.Sprintf("The supplied authentication is not authorized to access '%s'.", q))
			return
		}
		*f.dst = &q
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
	e := p.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.nameTakenElsewhere(ns, name, rulesDir) {
		writeError(w, r, http.StatusConflict, msgOtherCollection)
		return
	}
	key := entityKey(ns, name)
	old := e.rules[key]
	if old != nil && r.URL.Query().Get("overwrite") != "true" {
		writeError(w, r, http.StatusConflict, msgExists)
		return
	}
	rule := &whisk.Rule{Namespace: ns, Name: name, Version: "0.0.1", Annotations: whisk.KeyValues{}}
	status := whisk.RuleActive
	var oldTrigger *whisk.Trigger
	if old != nil {
		cp := *old
		rule = &cp
		rule.Version = bumpVersion(old.Version)
		status = p.ruleStatus(old)
		oldTrigger = e.triggers[old.Trigger.String()]
	} else if trig == nil || act == nil {
		writeError(w, r, http.StatusBadRequest, msgRuleNeedsBoth)
		return
	}
	if trig != nil {
		rule.Trigger = *trig
	}
	if act != nil {
		rule.Action = *act
	}
	if version != "" {
		rule.Version = version
	}
	if b.Publish != nil {
		rule.Publish = *b.Publish
	}
	if b.Annotations != nil {
		rule.Annotations = b.Annotations
	}
	t, msg := p.checkRuleRefs(rule.Trigger, rule.Action)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return
	}
	rule.Updated = time.Now().UnixMilli()
	err := e.putRule(rule)
	if err == nil && oldTrigger != nil && oldTrigger != t {
		err = e.putTrigger(linked(oldTrigger, key, nil))
	}
	if err == nil {
		err = e.putTrigger(linked(t, key, &whisk.ReducedRule{Action: rule.Action, Status: status}))
	}
	if err != nil {
		p.log.Error("put rule", "err", err)
		writeError(w, r, http.StatusInternalServerError, msgProcessingError)
		return
	}
	writeJSONResponse(w, http.StatusOK, withStatus(rule, status))
}

// lookupRule finds the rule of the path; the caller holds p.ev.mu. It
// answers the request when there is none.
func (p *Platform) lookupRule(w http.ResponseWriter, r *http.Request) (*whisk.Rule, bool) {
	return lookupEvent(p, w, r, p.ev.rules, rulesDir)
}

func (p *Platform) getRule(w http.ResponseWriter, r *http.Request) {
	p.ev.mu.Lock()
	defer p.ev.mu.Unlock()
	if rule, ok := p.lookupRule(w, r); ok {
		writeJSONResponse(w, http.StatusOK, withStatus(rule, p.ruleStatus(rule)))
	}
}

// deleteRule deletes a rule, active or not, and unlinks it from its
// trigger; the answer says it is inactive (Rules.scala remove).
func (p *Platform) deleteRule(w http.ResponseWriter, r *http.Request) {
	e := p.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	rule, ok := p.lookupRule(w, r)
	if !ok {
		return
	}
	var err error
	if t := e.triggers[rule.Trigger.String()]; t != nil {
		err = e.putTrigger(linked(t, entityKey(rule.Namespace, rule.Name), nil))
	}
	if err == nil {
		err = e.removeRule(rule.Namespace, rule.Name)
	}
	if err != nil {
		p.log.Error("delete rule", "err", err)
		writeError(w, r, http.StatusInternalServerError, msgProcessingError)
		return
	}
	writeJSONResponse(w, http.StatusOK, withStatus(rule, whisk.RuleInactive))
}

// listRules lists as the rules view does, whole rules without their
// status (wsk rule list gets each rule for it).
func (p *Platform) listRules(w http.ResponseWriter, r *http.Request) {
	ns := userOf(r).Namespace
	var all []*whisk.Rule
	p.ev.mu.Lock()
	for _, rule := range p.ev.rules {
		if rule.Namespace == ns {
			all = append(all, rule)
		}
	}
	p.ev.mu.Unlock()
	list, ok := listPage(w, r, rulesDir, all, func(r *whisk.Rule) int64 { return r.Updated }, func(r *whisk.Rule) string { return r.Name })
	if !ok {
		return
	}
	writeJSONResponse(w, http.StatusOK, append([]*whisk.Rule{}, list...))
}

// readRuleState reads a rule POST's {"status": "active"|"inactive"} as
// Status.serdesRestricted does; msg is why it cannot.
func readRuleState(body []byte) (status, msg string) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return "", "Request entity expected but not supplied"
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", msgEntityMalformed + err.Error()
	}
	fields, ok := v.(map[string]any)
	if !ok {
		return "", msgEntityMalformed + "scala.MatchError: " + strings.TrimSpace(string(body))
	}
	raw, ok := fields["status"]
	if !ok {
		return "", msgEntityMalformed + "key not found: status"
	}
	s, ok := raw.(string)
	if !ok {
		return "", msgEntityMalformed + fmt.Sprintf("scala.MatchError: %v", raw)
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", msgEntityMalformed + "requirement failed: argument undefined"
	case s != whisk.RuleActive && s != whisk.RuleInactive:
		return "", msgEntityMalformed + "requirement failed: " + s + " is not a recognized rule state"
	}
	return s, ""
}

// setRuleState enables or disables a rule in its trigger: 200 with a
// plain "OK" when it is (or already was) in that state, 404 when it has
// no trigger to be enabled in (Rules.scala activate).
func (p *Platform) setRuleState(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, maxPayload)
	if !ok {
		return
	}
	want, msg := readRuleState(body)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return
	}
	e := p.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	rule, ok := p.lookupRule(w, r)
	if !ok {
		return
	}
	if p.ruleStatus(rule) != want {
		t := e.triggers[rule.Trigger.String()]
		if t == nil {
			writeError(w, r, http.StatusNotFound, msgRuleNoTrigger)
			return
		}
		link := whisk.ReducedRule{Action: rule.Action, Status: want}
		if err := e.putTrigger(linked(t, entityKey(rule.Namespace, rule.Name), &link)); err != nil {
			p.log.Error("set rule state", "err", err)
			writeError(w, r, http.StatusInternalServerError, msgProcessingError)
			return
		}
	}
	// What akka-http completes a bare status with.
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}
