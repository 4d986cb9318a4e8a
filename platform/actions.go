package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wskx/wskx/whisk"
)

// actionBody is what a PUT may set.
type actionBody struct {
	Exec        *whisk.Exec     `json:"exec"`
	Annotations whisk.KeyValues `json:"annotations"`
	Parameters  whisk.KeyValues `json:"parameters"`
	Limits      *limitsBody     `json:"limits"`
	Publish     *bool           `json:"publish"`
	// DelAnnotations are annotation keys an update removes.
	DelAnnotations []string `json:"delAnnotations"`
}

// checkSequence applies OpenWhisk's create-time checks to a sequence named
// self: components exist, no cycle, at most n atomic actions once nested
// sequences are inlined.
func (p *Platform) checkSequence(self fqn, components []string, ns string) error {
	n := p.cfg.LengthLimit
	if len(components) == 0 {
		return badRequest(msgSequenceNoComponent)
	}
	if len(components) > n {
		return badRequest(msgSequenceTooLong)
	}
	count := 0
	var walk func(comps []string, depth int) error
	walk = func(comps []string, depth int) error {
		if depth > n {
			return badRequest(msgSequenceTooLong)
		}
		for _, c := range comps {
			f, ok := resolveName(c, ns)
			if !ok {
				return badRequest(msgSequenceNotFound)
			}
			if f == self {
				return badRequest(msgSequenceCyclic)
			}
			a, ok := p.store.getAction(f.ns, f.name)
			if !ok || f.ns != ns {
				return badRequest(msgSequenceNotFound)
			}
			if a.Exec != nil && a.Exec.Kind == "sequence" {
				if err := walk(a.Exec.Components, depth+1); err != nil {
					return err
				}
				continue
			}
			count++
			if count > n {
				return badRequest(msgSequenceTooLong)
			}
		}
		return nil
	}
	return walk(components, 0)
}

// buildAction validates a PUT body for name in ns and returns the action
// to store; old is the existing action when overwriting.
func (p *Platform) buildAction(ns, name string, b *actionBody, old *whisk.Action) (*whisk.Action, error) {
	a := &whisk.Action{Namespace: ns, Name: name, Version: "0.0.1",
		Limits: &whisk.Limits{Timeout: defaultTimeout, Memory: defaultMemory, Logs: defaultLogs, Concurrency: 1}}
	if old != nil {
		cp := *old
		a = &cp
		lim := *old.Limits
		a.Limits = &lim
		a.Version = bumpVersion(old.Version)
	}
	if b.Exec != nil {
		e := *b.Exec
		e.Components = append([]string(nil), e.Components...)
		if err := checkExec(&e, ns); err != nil {
			return nil, err
		}
		a.Exec = &e
	}
	if a.Exec == nil {
		return nil, badRequest("exec undefined")
	}
	if a.Exec.Kind == "sequence" {
		if err := p.checkSequence(fqn{ns, name}, a.Exec.Components, ns); err != nil {
			return nil, err
		}
	}
	if b.Parameters != nil {
		a.Parameters = b.Parameters
	}
	if old == nil {
		a.Annotations = b.Annotations
	} else {
		// An update merges the annotations it names over the action's
		// (Actions.scala updateWhiskAction), after removing those in
		// delAnnotations.
		merged := append(whisk.KeyValues(nil), old.Annotations...)
		for _, k := range b.DelAnnotations {
			merged = slices.DeleteFunc(merged, func(kv whisk.KeyValue) bool { return kv.Key == k })
		}
		for _, kv := range b.Annotations {
			merged = merged.Set(kv.Key, kv.Value)
		}
		a.Annotations = merged
	}
	if b.Publish != nil {
		a.Publish = *b.Publish
	}
	lim, err := applyLimits(*a.Limits, b.Limits)
	if err != nil {
		return nil, err
	}
	a.Limits = &lim
	if size := paramsSize(a.Parameters); size > maxPayload {
		return nil, badRequest(fmt.Sprintf("parameters larger than allowed: %d > %d bytes.", size, maxPayload))
	}
	// As OpenWhisk's controller does with require-api-key-annotation: new
	// actions get no key unless they ask for it.
	if old == nil && a.Annotations.Get("provide-api-key") == nil {
		a.Annotations = append(whisk.KeyValues(nil), a.Annotations...).Set("provide-api-key", false)
	}
	if a.Annotations == nil {
		a.Annotations = whisk.KeyValues{}
	}
	if a.Parameters == nil {
		a.Parameters = whisk.KeyValues{}
	}
	return a, nil
}

// actionName validates the {name...} path, "name" or "pkg/name"; msg says
// what is wrong with it otherwise.
func actionName(r *http.Request) (name, msg string) {
	name = r.PathValue("name")
	parts := strings.Split(name, "/")
	for _, s := range parts {
		if len(s) > maxNameLength {
			return "", nameTooLong("Name segement", len(s))
		}
	}
	if len(parts) > 2 {
		return "", msgNameIllegal
	}
	for _, s := range parts {
		if !validName(s) {
			return "", msgNameIllegal
		}
	}
	return name, ""
}

func (p *Platform) listActions(w http.ResponseWriter, r *http.Request) {
	limit, skip, msg := listParams(r, "actions")
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return
	}
	out := []whisk.Action{}
	for _, a := range page(p.store.listActions(userOf(r).Namespace), limit, skip) {
		cp := *a
		cp.Exec = &whisk.Exec{Kind: a.Exec.Kind, Binary: a.Exec.Binary}
		out = append(out, cp)
	}
	writeJSONResponse(w, http.StatusOK, out)
}

func (p *Platform) putAction(w http.ResponseWriter, r *http.Request) {
	name, msg := actionName(r)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return
	}
	ns := userOf(r).Namespace
	body, ok := readBody(w, r, maxCode+maxPayload+(1<<20))
	if !ok {
		return
	}
	var b actionBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		writeError(w, r, http.StatusBadRequest, msgMalformedBody+" "+err.Error())
		return
	}
	overwrite := r.URL.Query().Get("overwrite") == "true"
	old, exists := p.store.getAction(ns, name)
	if exists && !overwrite {
		writeError(w, r, http.StatusConflict, msgExists)
		return
	}
	if !exists {
		old = nil
	}
	a, err := p.buildAction(ns, name, &b, old)
	var br badRequest
	if errors.As(err, &br) {
		writeError(w, r, http.StatusBadRequest, br.Error())
		return
	} else if err != nil {
		writeError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	a.Updated = time.Now().UnixMilli()
	if err := p.store.putAction(a); err != nil {
		p.log.Error("put action", "err", err)
		writeError(w, r, http.StatusInternalServerError, "There was an error processing your request.")
		return
	}
	writeJSONResponse(w, http.StatusOK, a)
}

func (p *Platform) lookupAction(w http.ResponseWriter, r *http.Request) (*whisk.Action, bool) {
	name, msg := actionName(r)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return nil, false
	}
	a, ok := p.store.getAction(userOf(r).Namespace, name)
	if !ok {
		writeError(w, r, http.StatusNotFound, msgNotFound)
		return nil, false
	}
	return a, true
}

func (p *Platform) getAction(w http.ResponseWriter, r *http.Request) {
	a, ok := p.lookupAction(w, r)
	if !ok {
		return
	}
	cp := *a
	if r.URL.Query().Get("code") == "false" {
		e := *a.Exec
		e.Code = ""
		cp.Exec = &e
	}
	writeJSONResponse(w, http.StatusOK, cp)
}

func (p *Platform) deleteAction(w http.ResponseWriter, r *http.Request) {
	a, ok := p.lookupAction(w, r)
	if !ok {
		return
	}
	if err := p.store.deleteAction(a.Namespace, a.Name); err != nil {
		p.log.Error("delete action", "err", err)
		writeError(w, r, http.StatusInternalServerError, "There was an error processing your request.")
		return
	}
	writeJSONResponse(w, http.StatusOK, a)
}

// invoke starts an activation; a blocking call waits for its record.
func (p *Platform) invoke(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	blocking := q.Get("blocking") == "true"
	resultOnly := q.Get("result") == "true"
	wait := p.cfg.BlockingWait
	if v := q.Get("timeout"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 || ms > 60000 {
			writeError(w, r, http.StatusBadRequest, msgBadTimeout)
			return
		}
		wait = min(wait, time.Duration(ms)*time.Millisecond)
	}
	a, ok := p.lookupAction(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, maxPayload)
	if !ok {
		return
	}
	var payload object
	if len(strings.TrimSpace(string(body))) > 0 {
		var ok bool
		if payload, ok = asObject(body); !ok {
			writeError(w, r, http.StatusBadRequest, msgMalformedBody)
			return
		}
	}
	u := userOf(r)
	release, msg := p.acquire(u.Namespace, a.Namespace+"/"+a.Name)
	if msg != "" {
		writeError(w, r, http.StatusTooManyRequests, msg)
		return
	}
	req := runReq{id: newID(), user: u, txid: txid(r), action: a, name: fqn{a.Namespace, a.Name},
		payload: payload, requested: time.Now(), finished: release}
	done := make(chan *runResult, 1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer release()
		done <- p.run(p.ctx, req)
	}()
	w.Header().Set(whisk.ActivationIDHeader, req.id)
	accepted := map[string]string{"activationId": req.id}
	if !blocking {
		writeJSONResponse(w, http.StatusAccepted, accepted)
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case res := <-done:
		if res == nil {
			writeError(w, r, http.StatusServiceUnavailable, "The platform is shutting down.")
			return
		}
		status := http.StatusOK
		switch res.rec.Response.Code() {
		case 1, 2:
			status = http.StatusBadGateway
		case 3:
			status = http.StatusInternalServerError
		}
		if resultOnly {
			writeJSONResponse(w, status, res.rec.Response.Result)
			return
		}
		writeJSONResponse(w, status, fullRecord(res.rec))
	case <-timer.C:
		writeJSONResponse(w, http.StatusAccepted, accepted)
	case <-r.Context().Done():
	}
}
