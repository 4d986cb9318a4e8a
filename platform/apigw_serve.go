package platform

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// The platform serves the APIs it keeps as openwhisk-apigateway serves
// them (conf.d/managed_endpoints.conf, scripts/lua/routing.lua,
// policies/backendRouting.lua), on its own listener:
// /api/{tenant}/{base path}{path}, the tenant being the uuid of the key
// that made the API. A request is answered by the web action its operation
// names, through the web action URL of the operation's target, on this
// platform whatever host the URL names.

const gatewayPrefix = "/api/"

// gatewayError is the gateway's error answer (lib/request.lua err).
func gatewayError(w http.ResponseWriter, status int, msg string) {
	writeJSONResponse(w, status, map[string]any{"status": status, "message": "Error: " + msg})
}

func (p *Platform) gateway(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), gatewayPrefix)
	tenant, gwPath, _ := strings.Cut(rest, "/")
	u, known := p.users[tenant]
	if !known {
		// Not a gateway URL: what the REST API answers for a path it
		// does not serve (a uuid is never "v1").
		writeError(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	gwPath = strings.TrimSuffix(gwPath, "/")
	api, resource, remainder, ok := p.apis.match(u.Namespace, gwPath)
	if !ok {
		gatewayError(w, http.StatusNotFound, "Not found.")
		return
	}
	cors := api.Doc.cors()
	if cors == "true" && r.Method == http.MethodOptions {
		// cors.lua processCall: a preflight is the gateway's to answer.
		if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
			w.Header().Set("Access-Control-Allow-Headers", h)
		}
		setGatewayCORS(w, r)
		w.WriteHeader(http.StatusOK)
		return
	}
	raw, ok := api.Doc.Paths[resource][strings.ToLower(r.Method)]
	if !ok || !isAPIVerb(strings.ToLower(r.Method)) {
		gatewayError(w, http.StatusNotFound, "Whoops. Verb not supported.")
		return
	}
	target, verb, secureKey := api.Doc.backend(raw)
	tu, err := url.Parse(strings.TrimSuffix(target, "$(request.path)"))
	if target == "" || err != nil || !strings.HasPrefix(tu.EscapedPath(), webPrefix) {
		gatewayError(w, http.StatusNotFound, "Not found.")
		return
	}
	// setRouteWithOverride: a target ending in $(request.path) gets the
	// whole gateway path (base path included), any other the part of the
	// request path past the matched resource (getUriPath).
	path := tu.EscapedPath()
	if strings.HasSuffix(target, "$(request.path)") {
		path += "/" + gwPath
	} else {
		path += remainder
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawPath = path
	r2.URL.Path, err = url.PathUnescape(path)
	if err != nil {
		gatewayError(w, http.StatusNotFound, "Not found.")
		return
	}
	if verb != "" && verb != "keep" && isAPIVerb(strings.ToLower(verb)) {
		r2.Method = strings.ToUpper(verb)
	}
	r2.Header.Set("X-Forwarded-Url", "http://"+r.Host+r.URL.RequestURI())
	if secureKey != "" {
		r2.Header.Set("X-Require-Whisk-Auth", secureKey)
	}
	if cors != "" {
		w = &corsWriter{ResponseWriter: w, r: r, cors: cors}
	}
	p.web(w, r2)
}

// corsWriter is cors.lua replaceHeaders: the gateway's CORS headers over
// the web action's when the API enables CORS, none when it disables it.
type corsWriter struct {
	http.ResponseWriter
	r       *http.Request
	cors    string
	written bool
}

func (c *corsWriter) WriteHeader(status int) {
	if c.written {
		return
	}
	c.written = true
	if c.cors == "false" {
		for _, k := range []string{"Origin", "Methods", "Headers", "Credentials"} {
			c.Header().Del("Access-Control-Allow-" + k)
		}
		c.Header().Del("Access-Control-Expose-Headers")
		c.Header().Del("Access-Control-Max-Age")
	} else {
		setGatewayCORS(c.ResponseWriter, c.r)
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *corsWriter) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.ResponseWriter.Write(b)
}

func setGatewayCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = "*"
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Credentials", "true")
}

// cors is parseCors: "true" or "false" as x-ibm-configuration's
// cors.enabled says, "" when it says nothing.
func (d *apiDoc) cors() string {
	cfg, err := d.ibm()
	if err != nil || cfg.Cors == nil {
		return ""
	}
	if cfg.Cors.Enabled {
		return "true"
	}
	return "false"
}

// backend is parseBackends for one operation: the target URL and verb of
// its operation-switch case (or of an invoke for all operations), and the
// X-Require-Whisk-Auth value the case sets; without x-ibm-configuration,
// the operation's x-openwhisk URL.
func (d *apiDoc) backend(raw json.RawMessage) (target, verb, secureKey string) {
	var op apiOperation
	_ = json.Unmarshal(raw, &op)
	if cfg, err := d.ibm(); err == nil {
		for _, ex := range cfg.Assembly.Execute {
			if ex.Invoke != nil {
				return ex.Invoke.TargetURL, ex.Invoke.Verb, ""
			}
			if ex.OperationSwitch == nil {
				continue
			}
			i := caseIndex(ex.OperationSwitch.Case, op.OperationID)
			if i == len(ex.OperationSwitch.Case) {
				continue
			}
			for _, act := range ex.OperationSwitch.Case[i].Execute {
				switch {
				case act.Invoke != nil:
					target, verb = act.Invoke.TargetURL, act.Invoke.Verb
				case act.SetVariable != nil:
					for _, s := range act.SetVariable.Actions {
						if strings.EqualFold(s.Set, "message.headers.X-Require-Whisk-Auth") {
							secureKey = scalarString(s.Value)
						}
					}
				}
			}
			return target, verb, secureKey
		}
	}
	if op.XOpenWhisk != nil {
		return op.XOpenWhisk.URL, "keep", ""
	}
	return "", "", ""
}

// scalarString prints a header value from JSON: a string as it is, any
// other value as JSON.
func scalarString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return string(mustJSON(v))
}

// match is findResource/slowLookup: the API and path (relative to the
// API's base path) of the resource at gwPath, else of the longest prefix
// of it that is one, a {param} segment matching any segment; remainder is
// what follows the matched part ("" or "/...").
func (s *apiStore) match(ns, gwPath string) (api *gwAPI, resource, remainder string, ok bool) {
	segs := strings.Split(gwPath, "/")
	s.mu.RLock()
	defer s.mu.RUnlock()
	for n := len(segs); n >= 0; n-- {
		best, bestParams := -1, 0
		var bestAPI *gwAPI
		var bestRes string
		for _, a := range s.apis[ns] {
			base := strings.Trim(a.Doc.BasePath, "/")
			for rel := range a.Doc.Paths {
				full := strings.Trim(base+"/"+strings.Trim(rel, "/"), "/")
				params, fits := segmentsMatch(strings.Split(full, "/"), segs[:n])
				if !fits {
					continue
				}
				// A literal path goes before one with parameters.
				if best < 0 || params < bestParams {
					best, bestParams, bestAPI, bestRes = n, params, a, rel
				}
			}
		}
		if best >= 0 {
			rest := ""
			if n < len(segs) {
				rest = "/" + strings.Join(segs[n:], "/")
			}
			return bestAPI.clone(), bestRes, rest, true
		}
	}
	return nil, "", "", false
}

// segmentsMatch reports whether a resource's segments match a request's,
// and how many of them are parameters.
func segmentsMatch(res, req []string) (params int, ok bool) {
	if len(res) == 1 && res[0] == "" {
		res = nil
	}
	if len(req) == 1 && req[0] == "" {
		req = nil
	}
	if len(res) != len(req) {
		return 0, false
	}
	for i := range res {
		if strings.HasPrefix(res[i], "{") && strings.HasSuffix(res[i], "}") && req[i] != "" {
			params++
			continue
		}
		if seg, err := url.PathUnescape(req[i]); err != nil || seg != res[i] {
			return 0, false
		}
	}
	return params, true
}
