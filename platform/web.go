package platform

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wskx/wskx/whisk"
)

// Web actions follow core/controller/.../WebActions.scala
// (WhiskWebActionsApi): /api/v1/web/{namespace}/{package}/{action}[.ext][/path],
// package "default" for an action outside packages, any of the methods
// below, the caller's basic auth optional.

const webPrefix = "/api/v1/web/"

// OpenWhisk's messages for web actions (ErrorResponse.scala Messages).
const (
	msgParamsNotAllowed       = "Request defines parameters that are not allowed (e.g., reserved properties)."
	msgPropertyNotFound       = "Response does not include requested property."
	msgResponseNotReady       = "Response not yet ready."
	msgHTTPUnknownContentType = "Response did not specify a known content-type."
	msgHTTPContentTypeError   = "Response type in header did not match generated content type."
	msgErrorProcessing        = "There was an error processing your request."
)

func msgInvalidMedia(mediaType string) string { return "Response is not valid '" + mediaType + "'." }

// The CORS headers of CorsSettings.WebActions.
const (
	corsAllowMethods = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
	corsAllowHeaders = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"
)

// webMethods are WebActions.scala's allowedOperations.
var webMethods = map[string]bool{"GET": true, "DELETE": true, "POST": true, "PUT": true, "HEAD": true, "OPTIONS": true, "PATCH": true}

// The parameters WebApiDirectives adds to an action's input; a request
// may not set them.
const (
	owMethod  = "__ow_method"
	owHeaders = "__ow_headers"
	owPath    = "__ow_path"
	owUser    = "__ow_user"
	owQuery   = "__ow_query"
	owBody    = "__ow_body"
)

var owReserved = []string{owMethod, owHeaders, owPath, owUser, owQuery, owBody}

func (p *Platform) addWebRoutes(mux *http.ServeMux) {
	handleSubtree(mux, webPrefix, p.web, p.web)
}

// handleSubtree serves the paths under prefix (ending in "/") with h, and
// prefix without its slash with root: the mux would answer that one with
// a redirect whose body is not JSON.
func handleSubtree(mux *http.ServeMux, prefix string, h, root http.HandlerFunc) {
	mux.HandleFunc(prefix, h)
	mux.HandleFunc(strings.TrimSuffix(prefix, "/"), root)
}

// webAction finds the action a web URL names (package "default" is none)
// as an invoke does, WhiskActionMetaData.resolveActionAndMergeParameters:
// through its package or a binding, the package's (and binding's)
// parameters merged under the action's.
func (p *Platform) webAction(ns, pkg, name string) (*resolved, bool) {
	f := fqn{ns: ns, name: name}
	if pkg != "default" {
		f.name = pkg + "/" + name
	}
	res, e := p.resolveAction(f)
	return res, e == nil
}

// userByNamespace is the identity that owns a namespace: web actions run
// as their owner, whoever calls them (identityByNamespace).
func (p *Platform) userByNamespace(ns string) (User, bool) {
	for _, u := range p.cfg.Users {
		if u.Namespace == ns {
			return u, true
		}
	}
	return User{}, false
}

// caller is the user of a request's valid basic auth. RestAPIs.scala tries
// web.routes(user) when authentication succeeds and web.routes() when it
// does not, so invalid credentials are no credentials.
func (p *Platform) caller(r *http.Request) *User {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	u, known := p.users[id]
	if !known || !secretMatches(u.Key, secret) {
		return nil
	}
	return &u
}

// annTrue is Parameters.getAs[Boolean](key).getOrElse(false): only JSON
// true counts.
func annTrue(a *whisk.Action, key string) bool {
	b, ok := a.Annotations.Get(key).(bool)
	return ok && b
}

// webTarget is what a web URL names.
type webTarget struct {
	ns, pkg, name string
	ext           string
	path          string // the unmatched rest, "" or "/..."
}

// parseWebPath splits a web URL path as WhiskWebActionsApi.routes matches
// it: three name segments, the last one with an optional extension, then
// the unmatched path; ok is false when the path is not a web action's.
func parseWebPath(escaped string) (webTarget, bool) {
	rest, found := strings.CutPrefix(escaped, webPrefix)
	if !found {
		return webTarget{}, false
	}
	segs := strings.SplitN(rest, "/", 4)
	if len(segs) < 3 {
		return webTarget{}, false
	}
	var names [3]string
	for i := range names {
		s, err := url.PathUnescape(segs[i])
		if err != nil || !validName(s) {
			return webTarget{}, false
		}
		names[i] = s
	}
	t := webTarget{ns: names[0], pkg: names[1]}
	t.name, t.ext = splitExtension(names[2])
	if len(segs) == 4 {
		t.path = "/" + segs[3]
	}
	return t, true
}

// webExtensions are WhiskWebActionsApi.mediaTranscoders' extensions.
var webExtensions = []string{".http", ".json", ".html", ".svg", ".text"}

// splitExtension is mediaTranscoderForName: a known extension is cut off,
// anything else is part of the name and the extension is .http.
func splitExtension(seg string) (name, ext string) {
	for _, e := range webExtensions {
		if base, ok := strings.CutSuffix(seg, e); ok {
			return base, e
		}
	}
	return seg, ".http"
}

func (p *Platform) web(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(context.WithValue(r.Context(), txKey, newID()))
	if !webMethods[r.Method] {
		methods := "GET, DELETE, POST, PUT, HEAD, OPTIONS, PATCH"
		w.Header().Set("Allow", methods)
		webError(w, r, http.StatusMethodNotAllowed, msgMethodNotAllowed+methods)
		return
	}
	t, ok := parseWebPath(r.URL.EscapedPath())
	if !ok {
		webError(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	owner, ok := p.userByNamespace(t.ns)
	var a *whisk.Action
	var found *resolved
	if ok {
		if found, ok = p.webAction(t.ns, t.pkg, t.name); ok {
			a = found.action
		}
	}
	if !ok || !annTrue(a, "web-export") {
		webError(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	body, ok := readBody(w, r, maxPayload)
	if !ok {
		return
	}
	caller := p.caller(r)
	customOptions := annTrue(a, "web-custom-options")
	if !customOptions {
		// The platform answers OPTIONS itself, with its CORS headers on
		// every answer (handleMatch, actionDelegatesCors).
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		} else {
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	// With custom options the action answers OPTIONS, authenticated or not.
	if !(customOptions && r.Method == http.MethodOptions) && !authorized(a, r, caller) {
		webError(w, r, http.StatusUnauthorized, msgUnauthorized)
		return
	}
	raw := annTrue(a, "raw-http")
	in, status, msg := webInput(r, body, raw)
	if msg != "" {
		webError(w, r, status, msg)
		return
	}
	if !raw && overridesFinal(in, a) {
		webError(w, r, http.StatusBadRequest, msgParamsNotAllowed)
		return
	}
	args := in.argument(r, t.path, caller, raw)
	release, msg := p.acquire(owner.Namespace, a.Namespace+"/"+a.Name)
	if msg != "" {
		webError(w, r, http.StatusTooManyRequests, msg)
		return
	}
	req := runReq{id: newID(), user: owner, txid: txid(r), action: a, name: found.name, binding: found.binding,
		payload: args, requested: time.Now(), finished: release}
	res, done := p.runBlocking(r.Context(), req, release)
	w.Header().Set(whisk.ActivationIDHeader, req.id)
	switch {
	case !done && r.Context().Err() != nil:
		return
	case !done:
		webError(w, r, http.StatusAccepted, msgResponseNotReady)
		return
	case res == nil:
		webError(w, r, http.StatusServiceUnavailable, "The platform is shutting down.")
		return
	}
	p.webRespond(w, r, res.rec.Response, t.ext)
}

// runBlocking runs req and waits for its record as a blocking invoke does,
// up to the platform's blocking wait (the controller's
// maxWaitForBlockingActivation); done is false when the wait ran out.
func (p *Platform) runBlocking(ctx context.Context, req runReq, release func()) (res *runResult, done bool) {
	out := make(chan *runResult, 1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer release()
		out <- p.run(p.ctx, req)
	}()
	timer := time.NewTimer(p.cfg.BlockingWait)
	defer timer.Stop()
	select {
	case res = <-out:
		return res, true
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil, false
}

// authorized is confirmAuthenticated: require-whisk-auth true wants the
// caller's basic auth, a string or number wants header
// X-Require-Whisk-Auth to be that value, false or no annotation wants
// nothing, and any other value refuses every request.
func authorized(a *whisk.Action, r *http.Request, caller *User) bool {
	var v any
	found := false
	for _, kv := range a.Annotations {
		if kv.Key == "require-whisk-auth" {
			v, found = kv.Value, true
		}
	}
	if !found {
		return true
	}
	given, has := r.Header["X-Require-Whisk-Auth"]
	switch x := v.(type) {
	case bool:
		return !x || caller != nil
	case string:
		return has && given[0] == x
	case json.Number:
		return has && given[0] == x.String()
	case float64:
		return has && given[0] == string(mustJSON(x))
	}
	return false
}

// webRequest is a request's query and body as WebActions.scala's Context
// holds them.
type webRequest struct {
	query   url.Values
	body    json.RawMessage // nil: no body
	headers map[string]string
}

// webInput reads the query, headers and body of a web request
// (requestMethodParamsAndPath, extractEntityAndProcessRequest): a JSON
// body is parsed, a form is an object of its fields, and anything else is
// a string, base64 when its media type is binary (and, with raw-http,
// JSON too). A raw-http action gets the body unparsed.
func webInput(r *http.Request, body []byte, raw bool) (in webRequest, status int, msg string) {
	in.query = r.URL.Query()
	in.headers = map[string]string{}
	for k, vs := range r.Header {
		// Content-Length and Transfer-Encoding describe the entity, not
		// headers of the request, to akka-http.
		if k == "Content-Length" || k == "Transfer-Encoding" || len(vs) == 0 {
			continue
		}
		in.headers[strings.ToLower(k)] = vs[len(vs)-1]
	}
	if r.Host != "" {
		in.headers["host"] = r.Host
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && len(body) > 0 {
		ct = "application/octet-stream" // akka-http's type for an entity without one
		in.headers["content-type"] = ct
	}
	if ct == "" {
		return in, 0, ""
	}
	mt := parseMediaType(ct)
	switch {
	case !raw && mt.jsonFamily():
		if len(body) == 0 {
			return in, 0, ""
		}
		if !json.Valid(body) {
			return in, http.StatusBadRequest, msgMalformedBody
		}
		in.body = body
	case !raw && mt.name == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return in, http.StatusBadRequest, msgMalformedBody
		}
		fields := map[string]string{}
		for k, vs := range form {
			fields[k] = vs[len(vs)-1]
		}
		in.body = mustJSON(fields)
	case mt.binary() || mt.name == "application/json":
		in.body = mustJSON(base64.StdEncoding.EncodeToString(body))
	default:
		in.body = mustJSON(string(body))
	}
	return in, 0, ""
}

// overridesFinal is the negation of Context.overrides: a query or body
// parameter names a reserved property or one of the action's final
// parameters (with annotation final, those with a value).
func overridesFinal(in webRequest, a *whisk.Action) bool {
	forbidden := map[string]bool{}
	for _, k := range owReserved {
		forbidden[k] = true
	}
	if annTrue(a, "final") {
		for _, kv := range a.Parameters {
			if kv.Value != nil {
				forbidden[kv.Key] = true
			}
		}
	}
	for k := range in.query {
		if forbidden[k] {
			return true
		}
	}
	fields, _ := asObject(in.body)
	for k := range fields {
		if forbidden[k] {
			return true
		}
	}
	return false
}

// argument is Context.toActionArgument: the request's method, headers,
// path and caller, then the query parameters, then the body's (last
// wins); raw-http boxes the query and body as __ow_query and __ow_body.
func (in webRequest) argument(r *http.Request, path string, caller *User, raw bool) object {
	args := object{
		owMethod:  mustJSON(strings.ToLower(r.Method)),
		owHeaders: mustJSON(in.headers),
		owPath:    mustJSON(path),
	}
	if caller != nil {
		args[owUser] = mustJSON(caller.Namespace)
	}
	if raw {
		args[owQuery] = mustJSON(r.URL.RawQuery)
		args[owBody] = mustJSON("")
		if in.body != nil {
			args[owBody] = in.body
		}
		return args
	}
	for k, vs := range in.query {
		args[k] = mustJSON(vs[len(vs)-1])
	}
	if fields, ok := asObject(in.body); ok {
		for k, v := range fields {
			args[k] = v
		}
	} else if in.body != nil {
		args[owBody] = in.body
	}
	return args
}
