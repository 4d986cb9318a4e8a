package platform

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/wskx/wskx/whisk"
)

// API routes (wsk api, the npm client's routes) are managed by OpenWhisk's
// /whisk.system/apimgmt web actions createApi, getApi and deleteApi
// (core/routemgmt), which keep them in an API gateway. Here the platform
// answers those web actions itself, keeps the APIs in its data directory
// and is the gateway too: see gateway in apigw_serve.go.

const apimgmtPrefix = webPrefix + "whisk.system/apimgmt/"

func (p *Platform) addAPIGatewayRoutes(mux *http.ServeMux) {
	// The roots without their slash name no resource.
	notFound := func(w http.ResponseWriter, r *http.Request) { writeError(w, r, http.StatusNotFound, msgNotFound) }
	handleSubtree(mux, apimgmtPrefix, p.apimgmt, notFound)
	handleSubtree(mux, gatewayPrefix, p.gateway, notFound)
}

// apimgmt answers the route management web actions as the actions answer
// when called as web actions (apigw-utils.js makeResponseObject,
// makeErrorResponseObject): {statusCode, headers, body}, 200 with the
// answer or 502 with {"error": message}, through the URL's extension.
// Another name under the package is an ordinary web action's URL.
func (p *Platform) apimgmt(w http.ResponseWriter, r *http.Request) {
	t, ok := parseWebPath(r.URL.EscapedPath())
	var op func(*http.Request, apimgmtArgs) (any, string)
	switch {
	case !ok || !webMethods[r.Method]:
	case t.name == "createApi":
		op = p.createAPI
	case t.name == "getApi":
		op = p.getAPI
	case t.name == "deleteApi":
		op = p.deleteAPI
	}
	if op == nil {
		p.web(w, r)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), txKey, newID()))
	setWebCORS(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	body, ok := readBody(w, r, maxPayload)
	if !ok {
		return
	}
	args, status, msg := readAPIMgmtArgs(r, body)
	if msg != "" {
		webError(w, r, status, msg)
		return
	}
	answer, fail := op(r, args)
	reply := object{"statusCode": mustJSON(200), "headers": mustJSON(map[string]string{"Content-Type": "application/json"})}
	resp := whisk.Response{Status: whisk.StatusString(0), Success: true}
	if fail != "" {
		reply["statusCode"] = mustJSON(502)
		reply["body"] = mustJSON(map[string]string{"error": fail})
		resp = whisk.Response{Status: whisk.StatusString(1), StatusCode: 1}
		resp.Result = mustJSON(object{"error": mustJSON(reply)})
	} else {
		reply["body"] = mustJSON(answer)
		resp.Result = mustJSON(reply)
	}
	p.webRespond(w, r, resp, t.ext)
}

// setWebCORS sets the CORS headers every web action answer carries
// (CorsSettings.WebActions), as web does.
func setWebCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	} else {
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	}
}

// apimgmtArgs are a route management call's parameters: the query's,
// then a JSON object body's fields over them, as a web action gets them.
// The gateway's access token and space guid (accesstoken, spaceguid) are
// accepted and not used: the platform is its own gateway.
type apimgmtArgs map[string]json.RawMessage

func readAPIMgmtArgs(r *http.Request, body []byte) (apimgmtArgs, int, string) {
	args := apimgmtArgs{}
	for k, vs := range r.URL.Query() {
		args[k] = mustJSON(vs[len(vs)-1])
	}
	if len(strings.TrimSpace(string(body))) > 0 && parseMediaType(r.Header.Get("Content-Type")).jsonFamily() {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			if !json.Valid(body) {
				return nil, http.StatusBadRequest, msgMalformedBody
			}
		}
		for k, v := range fields {
			args[k] = v
		}
	}
	// The actions are annotated final, and a request may not name the
	// properties the platform adds (Context.overrides).
	for k := range args {
		if strings.HasPrefix(k, "__ow_") {
			return nil, http.StatusBadRequest, msgParamsNotAllowed
		}
	}
	return args, 0, ""
}

// str is the parameter as a string: a JSON string as it is, a number or
// boolean as it prints, anything else (or nothing) "".
func (a apimgmtArgs) str(key string) string {
	raw, ok := a[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	switch jsType(raw) {
	case "number", "boolean":
		return string(raw)
	}
	return ""
}

// jsType is JavaScript's typeof for a JSON value.
func jsType(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "":
		return "undefined"
	case s[0] == '"':
		return "string"
	case s == "true" || s == "false":
		return "boolean"
	case s[0] == '{' || s[0] == '[' || s == "null":
		return "object"
	}
	return "number"
}

// falsy is JavaScript's !value for a JSON value.
func falsy(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "false", `""`, "0":
		return true
	}
	return false
}

// cliAPI is generateCliApiFromGwApi's value: what createApi answers and
// getApi lists.
type cliAPI struct {
	Namespace string  `json:"namespace"`
	Activated bool    `json:"gwApiActivated"`
	TenantID  string  `json:"tenantId"`
	URL       string  `json:"gwApiUrl"`
	Doc       *apiDoc `json:"apidoc"`
}

type cliAPIItem struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	Value cliAPI `json:"value"`
}

// cliValue is the API as the clients get it, its gwApiUrl (the gateway's
// managed URL) at the host the request came to.
func cliValue(r *http.Request, u *User, a *gwAPI) cliAPI {
	return cliAPI{Namespace: "Not Used", Activated: true, TenantID: "Not Used", URL: gatewayURL(r, u, a.Doc.BasePath), Doc: a.Doc}
}

// createAPI is createApi.js: the apidoc names one endpoint (added to the
// namespace's API of its base path, or a new one) or carries a whole
// swagger document (which replaces the API of its base path). Like
// OpenWhisk it does not look the action up: wsk checks that it is a web
// action before it calls, and the npm client does not.
func (p *Platform) createAPI(r *http.Request, args apimgmtArgs) (any, string) {
	caller := p.caller(r)
	if caller == nil {
		return nil, "A valid auth key is required."
	}
	raw := args["apidoc"]
	if falsy(raw) {
		return nil, "apidoc is required."
	}
	switch jsType(raw) {
	case "string":
		var s string
		_ = json.Unmarshal(raw, &s)
		if !json.Valid([]byte(s)) {
			return nil, "apidoc field cannot be parsed. Ensure it is valid JSON."
		}
		raw = json.RawMessage(s)
	case "object":
	default:
		return nil, "apidoc field is of type " + jsType(raw) + " and should be a JSON object or a JSON string."
	}
	var doc struct {
		endpoint
		Swagger json.RawMessage `json:"swagger"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return nil, "apidoc field cannot be parsed. Ensure it is valid JSON."
	}
	if msg := validateEndpoint(&doc.endpoint, doc.Swagger); msg != "" {
		return nil, msg
	}
	ns := caller.Namespace
	var api *gwAPI
	if !falsy(doc.Swagger) {
		sw, msg := parseSwagger(doc.Swagger)
		if msg != "" {
			return nil, msg
		}
		api = &gwAPI{Namespace: ns, Doc: sw}
	} else {
		// updateNamespace: "_" is the caller's namespace, in the
		// backend URL too.
		e := &doc.endpoint
		if e.Action.Namespace == "_" {
			e.Action.Namespace = ns
			e.Action.BackendURL = webNamespaceRE.ReplaceAllLiteralString(e.Action.BackendURL, "/api/v1/web/"+ns+"/")
		}
		if found := p.apis.find(ns, e.GatewayBasePath); len(found) > 0 {
			api = found[0]
		} else {
			api = &gwAPI{Namespace: ns, Doc: baseAPIDoc(e.GatewayBasePath, e.APIName)}
		}
		rt := args.str("responsetype")
		if rt == "" {
			rt = "json"
		}
		if err := api.Doc.addEndpoint(e, rt); err != nil {
			return nil, "API creation failure: " + err.Error()
		}
	}
	if err := api.Doc.validateFinal(); err != nil {
		return nil, "API creation failure: " + err.Error()
	}
	if err := p.apis.save(api); err != nil {
		p.log.Error("create api", "err", err)
		return nil, "API creation failure: " + err.Error()
	}
	return cliValue(r, caller, api), ""
}

var webNamespaceRE = regexp.MustCompile(`/api/v1/web/([\w@.-]+)/`)

// validateEndpoint is createApi.js validateArgs for the apidoc.
func validateEndpoint(e *endpoint, swagger json.RawMessage) string {
	if e.Namespace == "" {
		return "apidoc is missing the namespace field"
	}
	if !falsy(swagger) {
		if e.GatewayBasePath != "" {
			return "swagger and gatewayBasePath are mutually exclusive and cannot be specified together."
		}
		return ""
	}
	switch {
	case e.GatewayBasePath == "":
		return "apidoc is missing the gatewayBasePath field"
	case e.GatewayPath == "":
		return "apidoc is missing the gatewayPath field"
	case e.GatewayMethod == "":
		return "apidoc is missing the gatewayMethod field"
	case e.Action == nil:
		return "apidoc is missing the action field."
	case e.Action.BackendMethod == "":
		return "action is missing the backendMethod field."
	case e.Action.BackendURL == "":
		return "action is missing the backendUrl field."
	case e.Action.Namespace == "":
		return "action is missing the namespace field."
	case e.Action.Name == "":
		return "action is missing the name field."
	case e.Action.AuthKey == "":
		return "action is missing the authkey field."
	}
	return ""
}

// parseSwagger reads apidoc.swagger, an object or a JSON string, as
// validateArgs does.
func parseSwagger(raw json.RawMessage) (*apiDoc, string) {
	switch jsType(raw) {
	case "string":
		var s string
		_ = json.Unmarshal(raw, &s)
		raw = json.RawMessage(s)
		if !json.Valid(raw) {
			return nil, "swagger field cannot be parsed. Ensure it is valid JSON."
		}
	case "object":
	default:
		return nil, "swagger field is " + jsType(raw) + " and should be an object or a JSON string."
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(raw, &fields)
	switch {
	case falsy(fields["basePath"]):
		return nil, "swagger is missing the basePath field."
	case falsy(fields["paths"]):
		return nil, "swagger is missing the paths field."
	case falsy(fields["info"]):
		return nil, "swagger is missing the info field."
	}
	var d apiDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, "API creation failure: " + err.Error()
	}
	return &d, ""
}

// getAPI is getApi.js: the caller's APIs, all of them or those of a base
// path or API name, as {"apis": [...]}. Like the gateway it does not
// filter by relpath or operation: wsk api list filters what it gets.
func (p *Platform) getAPI(r *http.Request, args apimgmtArgs) (any, string) {
	caller := p.caller(r)
	if caller == nil {
		return nil, "Invalid authentication."
	}
	if f := args.str("outputFormat"); f != "" && f != "swagger" && f != "apigw" {
		return nil, "Invalid outputFormat value. Valid values are: apigw, swagger"
	}
	found := p.apis.find(caller.Namespace, args.str("basepath"))
	if skip, err := strconv.Atoi(args.str("skip")); err == nil && skip > 0 {
		found = found[min(skip, len(found)):]
	}
	if limit, err := strconv.Atoi(args.str("limit")); err == nil && limit > 0 && limit < len(found) {
		found = found[:limit]
	}
	items := []cliAPIItem{}
	for _, a := range found {
		items = append(items, cliAPIItem{ID: "Not Used", Key: "Not Used", Value: cliValue(r, caller, a)})
	}
	return map[string]any{"apis": items}, ""
}

// deleteAPI is deleteApi.js: a whole API (by base path or name), one of
// its paths, or one operation of a path; an API left without paths goes.
func (p *Platform) deleteAPI(r *http.Request, args apimgmtArgs) (any, string) {
	caller := p.caller(r)
	if caller == nil {
		return nil, "Invalid authentication."
	}
	bp, relpath, op := args.str("basepath"), args.str("relpath"), strings.ToLower(args.str("operation"))
	switch {
	case bp == "":
		return nil, "basepath is required."
	case relpath == "" && op != "":
		return nil, "When specifying an operation, the path is required."
	}
	found := p.apis.find(caller.Namespace, bp)
	if len(found) == 0 {
		return nil, "API deletion failure: API '" + bp + "' does not exist."
	}
	api := found[0]
	var err error
	if relpath == "" {
		err = p.apis.remove(api.Namespace, api.Doc.BasePath)
	} else {
		msg, derr := api.Doc.removeEndpoint(relpath, op)
		switch {
		case msg != "":
			return nil, "API deletion failure: " + msg
		case derr != nil:
			err = derr
		case len(api.Doc.Paths) == 0:
			err = p.apis.remove(api.Namespace, api.Doc.BasePath)
		default:
			err = p.apis.save(api)
		}
	}
	if err != nil {
		p.log.Error("delete api", "err", err)
		return nil, "API deletion failure: " + err.Error()
	}
	return map[string]any{}, ""
}

// gatewayURL is the managed URL of an API (openwhisk-apigateway
// management/lib/apis.lua addAPI): /api/{tenant} and the base path without
// its slashes. The tenant is the uuid of the caller's key, the space guid
// the clients send.
func gatewayURL(r *http.Request, u *User, basePath string) string {
	tenant, _, _ := strings.Cut(u.Key, ":")
	s := (&url.URL{Scheme: "http", Host: r.Host}).String() + gatewayPrefix + tenant
	if bp := strings.Trim(basePath, "/"); bp != "" {
		s += "/" + bp
	}
	return s
}
