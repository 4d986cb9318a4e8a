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
// sequences are inlined (Actions.scala checkSequenceActionLimits). A
// component in a binding counts as the action it reaches.
func (p *Platform) checkSequence(self fqn, components []string, caller string) error {
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
			f, ok := resolveName(c, caller)
			if !ok {
				return badRequest(msgSequenceNotFound)
			}
			if pkg, name, inPackage := f.split(); inPackage {
				holder, _, e := p.resolveBinding(f.ns, pkg)
				if e != nil {
					return badRequest(msgSequenceNotFound)
				}
				f = fqn{holder.Namespace, holder.Name + "/" + name}
			}
			if f == self {
				return badRequest(msgSequenceCyclic)
			}
			a, ok := p.store.getAction(f.ns, f.name)
			if !ok {
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

// buildAction validates a PUT body for the action f and returns the action
// to store; old is the existing action when overwriting.
func (p *Platform) buildAction(f fqn, b *actionBody, old *whisk.Action) (*whisk.Action, error) {
	ns := f.ns
	if pkg, _, inPackage := f.split(); inPackage {
		ns += "/" + pkg
	}
	a := &whisk.Action{Namespace: ns, Name: lastSegment(f.name), Version: "0.0.1",
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
		if err := checkExec(&e, f.ns); err != nil {
			return nil, err
		}
		if e.Kind == "sequence" {
			if err := p.componentsRight(f.ns, e.Components); err != nil {
				return nil, err
			}
		}
		a.Exec = &e
	}
	if a.Exec == nil {
		return nil, badRequest("exec undefined")
	}
	if a.Exec.Kind == "sequence" {
		if err := p.checkSequence(f, a.Exec.Components, f.ns); err != nil {
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
	// Every create and update sets the exec annotation to the kind, for
	// clients that read kinds from lists (WhiskActionsApi.amendAnnotations).
	a.Annotations = append(whisk.KeyValues{}, a.Annotations...).Set("exec", a.Exec.Kind)
	if a.Parameters == nil {
		a.Parameters = whisk.KeyValues{}
	}
	return a, nil
}

// actionName validates the {name...} path, "name" or "pkg/name", and
// resolves it in the path's namespace.
func actionName(r *http.Request) (fqn, *apiError) {
	name := r.PathValue("name")
	parts := strings.Split(name, "/")
	for _, s := range parts {
		if len(s) > maxNameLength {
			return fqn{}, &apiError{http.StatusBadRequest, nameTooLong("Name segement", len(s))}
		}
	}
	if len(parts) > 2 {
		return fqn{}, &apiError{http.StatusBadRequest, msgNameIllegal}
	}
	for _, s := range parts {
		if !validName(s) {
			return fqn{}, &apiError{http.StatusBadRequest, msgNameIllegal}
		}
	}
	return fqn{nsOf(r), name}, nil
}

// listed is an action as a list shows it: its exec's kind and binary only.
func listed(actions []*whisk.Action) []whisk.Action {
	out := []whisk.Action{}
	for _, a := range actions {
		cp := *a
		cp.Exec = &whisk.Exec{Kind: a.Exec.Kind, Binary: a.Exec.Binary}
		out = append(out, cp)
	}
	return out
}

// writeList answers a list request of collection: the page asked for, or
// with count=true its size (RestApiCommons countEntities).
func writeList(w http.ResponseWriter, r *http.Request, collection string, all []*whisk.Action) {
	limit, skip, count, msg := listParams(r, collection)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return
	}
	if count {
		writeJSONResponse(w, http.StatusOK, map[string]int{collection: max(len(all)-skip, 0)})
		return
	}
	writeJSONResponse(w, http.StatusOK, listed(page(all, limit, skip)))
}

// listActions lists a namespace's actions, those in its packages too.
func (p *Platform) listActions(w http.ResponseWriter, r *http.Request) {
	writeList(w, r, "actions", p.store.listActions(nsOf(r)))
}

// listPackageActions answers GET .../actions/pkg/: the actions of a
// package the caller may read, or of the package a binding refers to
// (Actions.scala listPackageActions).
func (p *Platform) listPackageActions(w http.ResponseWriter, r *http.Request, pkg string) {
	ns := nsOf(r)
	if e := p.actionRight(userOf(r).Namespace, fqn{ns, pkg + "/x"}); e != nil {
		writeAPIError(w, r, e)
		return
	}
	holder, _, e := p.resolveBinding(ns, pkg)
	if e != nil {
		writeAPIError(w, r, e)
		return
	}
	writeList(w, r, "actions", p.store.packageActions(holder.Namespace, holder.Name))
}

// writableAction checks the caller may create, update or delete the
// action f: in its own namespace, and in a package, not a binding
// (Actions.scala innerRoutes).
func (p *Platform) writableAction(caller string, f fqn) *apiError {
	if f.ns != caller {
		return notAuthorized(f.String())
	}
	pkgName, _, inPackage := f.split()
	if !inPackage {
		return nil
	}
	pkg, ok := p.store.getPackage(f.ns, pkgName)
	switch {
	case !ok:
		if _, isAction := p.store.getAction(f.ns, pkgName); isAction {
			return errConformance
		}
		return errNotFound
	case pkg.Binding != nil:
		return &apiError{http.StatusBadRequest, msgNotAllowedOnBinding}
	}
	return nil
}

func (p *Platform) putAction(w http.ResponseWriter, r *http.Request) {
	f, e := actionName(r)
	if e != nil {
		writeAPIError(w, r, e)
		return
	}
	if e := p.writableAction(userOf(r).Namespace, f); e != nil {
		writeAPIError(w, r, e)
		return
	}
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
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	// The package may have gone while the body was read.
	if e := p.writableAction(userOf(r).Namespace, f); e != nil {
		writeAPIError(w, r, e)
		return
	}
	old, exists := p.store.getAction(f.ns, f.name)
	if !exists {
		if _, isPackage := p.store.getPackage(f.ns, f.name); isPackage {
			writeAPIError(w, r, errConformance)
			return
		}
		old = nil
	}
	if exists && r.URL.Query().Get("overwrite") != "true" {
		writeError(w, r, http.StatusConflict, msgExists)
		return
	}
	a, err := p.buildAction(f, &b, old)
	var br badRequest
	var ae *apiError
	switch {
	case errors.As(err, &br):
		writeError(w, r, http.StatusBadRequest, br.Error())
		return
	case errors.As(err, &ae):
		writeAPIError(w, r, ae)
		return
	case err != nil:
		writeError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	a.Updated = time.Now().UnixMilli()
	if err := p.store.putAction(a); err != nil {
		p.log.Error("put action", "err", err)
		writeError(w, r, http.StatusInternalServerError, msgServerError)
		return
	}
	writeJSONResponse(w, http.StatusOK, a)
}

// readableAction finds the action the path names for reading or invoking:
// the caller's own, or one in a package it may read; through a binding,
// the bound package's action with the parameters merged (Actions.scala
// fetch, activate).
func (p *Platform) readableAction(w http.ResponseWriter, r *http.Request) (*resolved, bool) {
	f, e := actionName(r)
	if e == nil {
		e = p.actionRight(userOf(r).Namespace, f)
	}
	var res *resolved
	if e == nil {
		res, e = p.resolveAction(f)
	}
	if e != nil {
		writeAPIError(w, r, e)
		return nil, false
	}
	return res, true
}

// getAction answers an action; a path of a package's name and a slash
// (or none) lists the package's actions (or the namespace's).
func (p *Platform) getAction(w http.ResponseWriter, r *http.Request) {
	switch name := r.PathValue("name"); {
	case name == "":
		if ns := nsOf(r); ns != userOf(r).Namespace {
			writeAPIError(w, r, notAuthorized(ns))
			return
		}
		p.listActions(w, r)
		return
	case strings.HasSuffix(name, "/") && validName(strings.TrimSuffix(name, "/")):
		p.listPackageActions(w, r, strings.TrimSuffix(name, "/"))
		return
	}
	res, ok := p.readableAction(w, r)
	if !ok {
		return
	}
	cp := *res.action
	if r.URL.Query().Get("code") == "false" {
		e := *cp.Exec
		e.Code = ""
		cp.Exec = &e
	}
	writeJSONResponse(w, http.StatusOK, cp)
}

func (p *Platform) deleteAction(w http.ResponseWriter, r *http.Request) {
	f, e := actionName(r)
	if e == nil {
		e = p.writableAction(userOf(r).Namespace, f)
	}
	if e != nil {
		writeAPIError(w, r, e)
		return
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	a, ok := p.store.getAction(f.ns, f.name)
	if !ok {
		if _, isPackage := p.store.getPackage(f.ns, f.name); isPackage {
			writeAPIError(w, r, errConformance)
		} else {
			writeAPIError(w, r, errNotFound)
		}
		return
	}
	if err := p.store.deleteAction(a); err != nil {
		p.log.Error("delete action", "err", err)
		writeError(w, r, http.StatusInternalServerError, msgServerError)
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
	res, ok := p.readableAction(w, r)
	if !ok {
		return
	}
	u := userOf(r)
	if a := res.action; a.Exec.Kind == "sequence" {
		if e := p.componentsRight(u.Namespace, a.Exec.Components); e != nil {
			writeAPIError(w, r, e)
			return
		}
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
	release, msg := p.acquire(u.Namespace, res.name.String())
	if msg != "" {
		writeError(w, r, http.StatusTooManyRequests, msg)
		return
	}
	req := runReq{id: newID(), user: u, txid: txid(r), action: res.action, name: res.name, binding: res.binding,
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
