package platform

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wskx/wskx/internal/jsonmux"
	"github.com/wskx/wskx/whisk"
)

// OpenWhisk's messages for the API.
const (
	msgNotFound      = "The requested resource does not exist."
	msgUnauthorized  = "The supplied authentication is invalid."
	msgForbidden     = "The supplied authentication is not authorized to access this resource."
	msgExists        = "resource already exists"
	msgBadTimeout    = "Timeout must be number of milliseconds up to 60000."
	msgActivationID  = "The activation id is not valid."
	msgMalformedBody = "The request content was malformed."
	msgNameIllegal   = "The name of the entity contains illegal characters."
	msgNSIllegal     = "The namespace contains illegal characters."
)

var activationIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

type ctxKey int

const (
	userKey ctxKey = iota
	txKey
)

// msgMethodNotAllowed is akka-http's text for a method a path does not take.
const msgMethodNotAllowed = "HTTP method not allowed, supported methods: "

func (p *Platform) routes() http.Handler {
	routes := []struct {
		method, pattern string
		h               http.HandlerFunc
	}{
		{"GET", "/api/v1/namespaces", p.listNamespaces},
		{"GET", "/api/v1/namespaces/{ns}/actions", p.listActions},
		{"PUT", "/api/v1/namespaces/{ns}/actions/{name...}", p.putAction},
		{"GET", "/api/v1/namespaces/{ns}/actions/{name...}", p.getAction},
		{"DELETE", "/api/v1/namespaces/{ns}/actions/{name...}", p.deleteAction},
		{"POST", "/api/v1/namespaces/{ns}/actions/{name...}", p.invoke},
		{"GET", "/api/v1/namespaces/{ns}/activations", p.listActivations},
		{"GET", "/api/v1/namespaces/{ns}/activations/{id}", p.getActivation},
		{"GET", "/api/v1/namespaces/{ns}/activations/{id}/result", p.activationResult},
		{"GET", "/api/v1/namespaces/{ns}/activations/{id}/logs", p.activationLogs},
		{"GET", "/api/v1/namespaces/{ns}/triggers", p.listTriggers},
		{"GET", "/api/v1/namespaces/{ns}/triggers/{$}", p.listTriggers},
		{"PUT", "/api/v1/namespaces/{ns}/triggers/{name}", p.putTrigger},
		{"GET", "/api/v1/namespaces/{ns}/triggers/{name}", p.getTrigger},
		{"DELETE", "/api/v1/namespaces/{ns}/triggers/{name}", p.deleteTrigger},
		{"POST", "/api/v1/namespaces/{ns}/triggers/{name}", p.fireTrigger},
		{"GET", "/api/v1/namespaces/{ns}/rules", p.listRules},
		{"GET", "/api/v1/namespaces/{ns}/rules/{$}", p.listRules},
		{"PUT", "/api/v1/namespaces/{ns}/rules/{name}", p.putRule},
		{"GET", "/api/v1/namespaces/{ns}/rules/{name}", p.getRule},
		{"DELETE", "/api/v1/namespaces/{ns}/rules/{name}", p.deleteRule},
		{"POST", "/api/v1/namespaces/{ns}/rules/{name}", p.setRuleState},
	}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	var order []string
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.pattern, p.auth(rt.h))
		if allowed[rt.pattern] == nil {
			order = append(order, rt.pattern)
		}
		allowed[rt.pattern] = append(allowed[rt.pattern], rt.method)
	}
	// A pattern without a method catches the other methods of a path, so
	// that they get a JSON 405 rather than the mux's text. It also keeps
	// the mux from redirecting ".../actions" to ".../actions/" for the
	// methods that only ".../actions/{name...}" takes.
	for _, pat := range order {
		methods := strings.Join(allowed[pat], ", ")
		mux.HandleFunc(pat, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			writeError(w, r, http.StatusMethodNotAllowed, msgMethodNotAllowed+methods)
		})
	}
	p.addWebRoutes(mux)
	p.addAPIGatewayRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, msgNotFound)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The mux would redirect a path with "..", "." or "//" to its
		// clean form, with an HTML body; no such path names a resource.
		defer drain(r.Body)
		if jsonmux.CleanPath(r.URL.Path) != r.URL.Path {
			writeError(w, r, http.StatusNotFound, msgNotFound)
			return
		}
		if p.serveFeedActions(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// drainLimit bounds what the platform reads of a body it does not want:
// past a size limit, or after an answer that did not need it.
const drainLimit = 64 << 20

// drain reads what is left of a body, up to drainLimit. A client may write
// all of its request before it reads the answer; closing the connection
// on unread data resets it, and that client sees the reset, not the
// answer. A small answer is still in the server's buffer while this runs.
func drain(body io.Reader) {
	_, _ = io.CopyN(io.Discard, body, drainLimit)
}

// readBody reads a request body of at most limit bytes. A longer one is
// drained and answered here with OpenWhisk's 413 (Messages.entityTooBig),
// and the connection closed after it.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, msgMalformedBody)
		return nil, false
	}
	if int64(len(body)) <= limit {
		return body, true
	}
	n, _ := io.CopyN(io.Discard, r.Body, drainLimit)
	size := max(int64(len(body))+n, r.ContentLength)
	w.Header().Set("Connection", "close")
	writeError(w, r, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("Request larger than allowed: %d > %d bytes.", size, limit))
	return nil, false
}

func txid(r *http.Request) string {
	if id, ok := r.Context().Value(txKey).(string); ok {
		return id
	}
	return ""
}

func userOf(r *http.Request) User { return r.Context().Value(userKey).(User) }

func writeJSONResponse(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	code := txid(r)
	if code == "" {
		code = newID()
	}
	writeJSONResponse(w, status, map[string]string{"error": msg, "code": code})
}

// auth checks the basic-auth key and the namespace in the path ("_" is the
// caller's own), then calls h.
func (p *Platform) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), txKey, newID()))
		id, secret, ok := r.BasicAuth()
		u, known := p.users[id]
		if !ok || !known || !secretMatches(u.Key, secret) {
			w.Header().Set("WWW-Authenticate", `Basic realm="whisk rest service"`)
			writeError(w, r, http.StatusUnauthorized, msgUnauthorized)
			return
		}
		ns := r.PathValue("ns")
		if len(ns) > maxNameLength {
			writeError(w, r, http.StatusBadRequest, nameTooLong("Namespace", len(ns)))
			return
		}
		if ns != "" && ns != "_" && !validName(ns) {
			writeError(w, r, http.StatusBadRequest, msgNSIllegal)
			return
		}
		if ns != "" && ns != "_" && ns != u.Namespace {
			writeError(w, r, http.StatusForbidden, msgForbidden)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), userKey, u))
		h(w, r)
	}
}

// secretMatches reports whether secret is the secret of key ("uuid:secret")
// in time that does not depend on where they differ; the uuid is the
// public half and has been looked up already.
func secretMatches(key, secret string) bool {
	_, want, ok := strings.Cut(key, ":")
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(secret)) == 1
}

func (p *Platform) listNamespaces(w http.ResponseWriter, r *http.Request) {
	writeJSONResponse(w, http.StatusOK, []string{userOf(r).Namespace})
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

func listParams(r *http.Request, collection string) (limit, skip int, msg string) {
	limit, skip = defaultList, 0
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, fmt.Sprintf("The value '%s' is not an integer for %s.", v, collection)
		}
		if n < 0 || n > maxListLimit {
			return 0, 0, fmt.Sprintf("The value '%d' is not in the range of 0 to %d for %s.", n, maxListLimit, collection)
		}
		limit = n
		if n == 0 {
			limit = maxListLimit
		}
	}
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, fmt.Sprintf("The value '%s' is not an integer for %s.", v, collection)
		}
		if n < 0 {
			return 0, 0, fmt.Sprintf("The value '%d' is not greater than or equal to 0 for %s.", n, collection)
		}
		skip = n
	}
	return limit, skip, ""
}

func page[T any](all []T, limit, skip int) []T {
	if skip >= len(all) {
		return []T{}
	}
	all = all[skip:]
	if len(all) > limit {
		all = all[:limit]
	}
	return all
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

// fullRecord is the record as GET returns it: no statusCode.
func fullRecord(a *whisk.Activation) *whisk.Activation {
	cp := *a
	cp.StatusCode = nil
	cp.Response.StatusCode = 0
	return &cp
}

// summary is a list entry without docs.
func summary(a *whisk.Activation) map[string]any {
	m := map[string]any{
		"namespace": a.Namespace, "name": a.Name, "version": a.Version, "subject": a.Subject,
		"activationId": a.ActivationID, "start": a.Start, "end": a.End, "duration": a.Duration,
		"publish": a.Publish, "annotations": a.Annotations, "statusCode": a.Response.Code(),
	}
	if a.Cause != "" {
		m["cause"] = a.Cause
	}
	return m
}

func (p *Platform) listActivations(w http.ResponseWriter, r *http.Request) {
	limit, skip, msg := listParams(r, "activations")
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, msg)
		return
	}
	q := r.URL.Query()
	var since, upto int64
	for _, f := range []struct {
		key string
		dst *int64
	}{{"since", &since}, {"upto", &upto}} {
		if v := q.Get(f.key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				writeError(w, r, http.StatusBadRequest, "Parameter is not a valid value for epoch seconds: "+v)
				return
			}
			*f.dst = n
		}
	}
	name := q.Get("name")
	if name != "" {
		parts := strings.Split(name, "/")
		bad := len(parts) > 2
		for _, s := range parts {
			bad = bad || !validName(s)
		}
		if bad {
			writeError(w, r, http.StatusBadRequest, "Parameter may be a 'simple' name or 'package-name/simple' name: "+name)
			return
		}
	}
	ns := userOf(r).Namespace
	keep := func(a *whisk.Activation) bool {
		if since > 0 && a.Start < since {
			return false
		}
		if upto > 0 && a.Start > upto {
			return false
		}
		if name == "" {
			return true
		}
		if strings.Contains(name, "/") {
			path, _ := a.Annotations.Get("path").(string)
			return strings.HasSuffix(path, "/"+name)
		}
		return a.Name == name
	}
	docs := q.Get("docs") == "true"
	var out []any
	for _, a := range page(p.store.listActivations(ns, keep), limit, skip) {
		if docs {
			out = append(out, fullRecord(a))
		} else {
			out = append(out, summary(a))
		}
	}
	if out == nil {
		out = []any{}
	}
	writeJSONResponse(w, http.StatusOK, out)
}

func (p *Platform) lookupActivation(w http.ResponseWriter, r *http.Request) (*whisk.Activation, bool) {
	id := r.PathValue("id")
	if !activationIDRE.MatchString(id) {
		writeError(w, r, http.StatusBadRequest, msgActivationID)
		return nil, false
	}
	a, ok := p.store.getActivation(id)
	if !ok || a.Namespace != userOf(r).Namespace {
		writeError(w, r, http.StatusNotFound, msgNotFound)
		return nil, false
	}
	return a, true
}

func (p *Platform) getActivation(w http.ResponseWriter, r *http.Request) {
	if a, ok := p.lookupActivation(w, r); ok {
		writeJSONResponse(w, http.StatusOK, fullRecord(a))
	}
}

func (p *Platform) activationResult(w http.ResponseWriter, r *http.Request) {
	if a, ok := p.lookupActivation(w, r); ok {
		writeJSONResponse(w, http.StatusOK, map[string]any{
			"result": a.Response.Result, "success": a.Response.Success, "status": a.Response.Status})
	}
}

func (p *Platform) activationLogs(w http.ResponseWriter, r *http.Request) {
	if a, ok := p.lookupActivation(w, r); ok {
		writeJSONResponse(w, http.StatusOK, map[string]any{"logs": a.Logs})
	}
}
