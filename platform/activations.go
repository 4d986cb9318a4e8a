package platform

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/wskx/wskx/whisk"
)

var activationIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

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
	limit, skip, _, msg := listParams(r, "activations")
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
		return name == "" || listedName(a) == name
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

// listedName is the name a list's name filter matches an activation by,
// the key of OpenWhisk's activations view (pathFilter in
// whisks_design_document_for_activations_db_filters): "pkg/name" for an
// action in a package, named by the binding when invoked through one, and
// the name alone otherwise.
func listedName(a *whisk.Activation) string {
	if b, ok := a.Annotations.Get("binding").(string); ok {
		if _, pkg, ok := strings.Cut(b, "/"); ok {
			return pkg + "/" + a.Name
		}
	}
	path, _ := a.Annotations.Get("path").(string)
	if parts := strings.Split(path, "/"); len(parts) == 3 {
		return parts[1] + "/" + a.Name
	}
	return a.Name
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
