package platform

import (
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// The API route tests call the route management web actions with what
// wsk api (openwhisk-cli commands/api.go parseApi, openwhisk-client-go
// whisk/api.go) sends, and check the answers against what
// core/routemgmt's actions answer through the gateway.

// routeDoc is the apidoc wsk api create sends for BASE PATH VERB ACTION.
func routeDoc(env *testEnv, base, path, verb, action string) map[string]any {
	doc := map[string]any{
		"namespace": "guest", "gatewayBasePath": base, "gatewayPath": path, "gatewayMethod": strings.ToUpper(verb),
		"id": "API:guest:" + base,
		"action": map[string]any{"name": action, "namespace": "guest", "backendMethod": strings.ToUpper(verb),
			"backendUrl": env.url + "/api/v1/web/guest/default/" + action + ".http", "authkey": env.key},
	}
	var params []any
	for _, m := range paramNameRE.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "type": "string",
			"description": "Default description for '" + m[1] + "'"})
	}
	if params != nil {
		doc["pathParameters"] = params
	}
	return doc
}

// mgmt calls a route management action as the Go client does (.http,
// the access token and space guid in the query) and decodes its answer.
func mgmt(t *testing.T, env *testEnv, method, name, key string, q url.Values, body any) (int, map[string]any) {
	t.Helper()
	if q == nil {
		q = url.Values{}
	}
	uuid, _, _ := strings.Cut(env.key, ":")
	q.Set("accesstoken", "DUMMY TOKEN")
	q.Set("spaceguid", uuid)
	b := ""
	hdr := map[string]string{}
	if body != nil {
		b = string(mustJSON(body))
		hdr["Content-Type"] = "application/json"
	}
	resp := webCall(t, method, env.url+apimgmtPrefix+name+".http?"+q.Encode(), key, hdr, b)
	var m map[string]any
	if err := json.Unmarshal(resp.body, &m); err != nil {
		t.Fatalf("%s %s: %d %q is not a JSON object", method, name, resp.status, resp.body)
	}
	return resp.status, m
}

func createRoute(t *testing.T, env *testEnv, doc map[string]any, responseType string) map[string]any {
	t.Helper()
	status, m := mgmt(t, env, "POST", "createApi", env.key, url.Values{"responsetype": {responseType}}, map[string]any{"apidoc": doc})
	if status != 200 {
		t.Fatalf("create %v: %d %v", doc, status, m)
	}
	return m
}

func listRoutes(t *testing.T, env *testEnv, q url.Values) []any {
	t.Helper()
	status, m := mgmt(t, env, "GET", "getApi", env.key, q, nil)
	if status != 200 {
		t.Fatalf("getApi %v: %d %v", q, status, m)
	}
	apis, ok := m["apis"].([]any)
	if !ok {
		t.Fatalf("getApi %v: %v has no apis list", q, m)
	}
	return apis
}

// dig follows keys through nested JSON objects.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func webExported(mode string, ann ...whisk.KeyValue) *whisk.Action {
	a := testAction(mode)
	a.Annotations = append(whisk.KeyValues{{Key: "web-export", Value: true}}, ann...)
	return a
}

func TestAPIRouteCreateListGet(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "hello", webExported("echo"))
	uuid, _, _ := strings.Cut(env.key, ":")

	created := createRoute(t, env, routeDoc(env, "/hello", "/world", "get", "hello"), "json")
	if got, want := created["gwApiUrl"], env.url+"/api/"+uuid+"/hello"; got != want {
		t.Errorf("gwApiUrl %v, want %s", got, want)
	}
	op := dig(created, "apidoc", "paths", "/world", "get")
	wantOp := map[string]any{
		"operationId": "getWorld",
		"x-openwhisk": map[string]any{"url": env.url + "/api/v1/web/guest/default/hello.json", "namespace": "guest", "package": "", "action": "hello"},
		"responses":   map[string]any{"default": map[string]any{"description": "Default response"}},
	}
	if !reflect.DeepEqual(op, wantOp) {
		t.Errorf("operation %v, want %v", op, wantOp)
	}
	if dig(created, "apidoc", "basePath") != "/hello" || dig(created, "apidoc", "info", "title") != "/hello" || dig(created, "apidoc", "swagger") != "2.0" {
		t.Errorf("apidoc %v", created["apidoc"])
	}
	named := routeDoc(env, "/club", "/books/{isbn}", "get", "hello")
	named["apiName"] = "Book Club"
	createRoute(t, env, named, "http")
	createRoute(t, env, routeDoc(env, "/club", "/books", "post", "hello"), "http")

	tests := []struct {
		name  string
		q     url.Values
		bases []string
		paths int // of the first API
	}{
		{"all", nil, []string{"/club", "/hello"}, 2},
		{"base path", url.Values{"basepath": {"/hello"}}, []string{"/hello"}, 1},
		{"base path with slash", url.Values{"basepath": {"/hello/"}}, []string{"/hello"}, 1},
		{"api name", url.Values{"basepath": {"Book Club"}}, []string{"/club"}, 2},
		// The gateway answers the whole API; wsk api list filters by
		// path and operation itself.
		{"relpath and operation", url.Values{"basepath": {"/club"}, "relpath": {"/books"}, "operation": {"post"}}, []string{"/club"}, 2},
		{"unknown base path", url.Values{"basepath": {"/nothing"}}, nil, 0},
		{"limit", url.Values{"limit": {"1"}, "skip": {"0"}}, []string{"/club"}, 2},
		{"skip", url.Values{"limit": {"30"}, "skip": {"1"}}, []string{"/hello"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apis := listRoutes(t, env, tc.q)
			var bases []string
			for _, a := range apis {
				if dig(a, "id") != "Not Used" || dig(a, "value", "gwApiActivated") != true {
					t.Errorf("item %v", a)
				}
				bases = append(bases, dig(a, "value", "apidoc", "basePath").(string))
			}
			if !reflect.DeepEqual(bases, tc.bases) {
				t.Fatalf("base paths %v, want %v", bases, tc.bases)
			}
			if len(apis) > 0 {
				if paths, _ := dig(apis[0], "value", "apidoc", "paths").(map[string]any); len(paths) != tc.paths {
					t.Errorf("paths %v, want %d", paths, tc.paths)
				}
			}
		})
	}
	club := listRoutes(t, env, url.Values{"basepath": {"/club"}})[0]
	if got := dig(club, "value", "apidoc", "info", "title"); got != "Book Club" {
		t.Errorf("title %v: the first endpoint names the API", got)
	}
	get := dig(club, "value", "apidoc", "paths", "/books/{isbn}", "get")
	if dig(get, "operationId") != "getBooksIsbn" || dig(get, "x-openwhisk", "url") != env.url+"/api/v1/web/guest/default/hello.http" {
		t.Errorf("path parameter operation %v", get)
	}
	if params, _ := dig(get, "parameters").([]any); len(params) != 1 || dig(params[0], "name") != "isbn" {
		t.Errorf("parameters %v", dig(get, "parameters"))
	}
	target := dig(club, "value", "apidoc", "x-ibm-configuration", "assembly", "execute")
	if !strings.Contains(string(mustJSON(target)), `"target-url":"`+env.url+`/api/v1/web/guest/default/hello.http$(request.path)"`) {
		t.Errorf("gateway targets %s", mustJSON(target))
	}
}

func TestAPIRouteInvoke(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "hello", webExported("echo"))
	mustPut(t, env.c, "respond", webExported("respond"))
	mustPut(t, env.c, "plain", testAction("echo"))
	mustPut(t, env.c, "keyed", webExported("echo", whisk.KeyValue{Key: "require-whisk-auth", Value: "s3cret"}))
	base := createRoute(t, env, routeDoc(env, "/hello", "/world", "get", "hello"), "json")["gwApiUrl"].(string)
	createRoute(t, env, routeDoc(env, "/hello", "/books/{id}", "put", "respond"), "http")
	createRoute(t, env, routeDoc(env, "/hello", "/missing", "get", "nothing"), "json")
	createRoute(t, env, routeDoc(env, "/hello", "/plain", "get", "plain"), "json")
	keyed := routeDoc(env, "/hello", "/keyed", "get", "keyed")
	keyed["action"].(map[string]any)["secureKey"] = "s3cret"
	createRoute(t, env, keyed, "json")
	uuid, _, _ := strings.Cut(env.key, ":")

	respondQ := "?r=" + url.QueryEscape(`{"statusCode":201,"body":"made"}`)
	tests := []struct {
		name, method, url string
		status            int
		want              map[string]any // fields of a JSON answer
		text              string         // a text answer
	}{
		{"json route", "GET", base + "/world?name=x", 200, map[string]any{"name": "x", owMethod: "get", owPath: ""}, ""},
		{"past the resource", "GET", base + "/world/more/here", 200, map[string]any{owPath: "/more/here"}, ""},
		{"path parameter, http", "PUT", base + "/books/978" + respondQ, 201, nil, "made"},
		{"verb not there", "POST", base + "/world", 404, map[string]any{"status": 404.0, "message": "Error: Whoops. Verb not supported."}, ""},
		{"no such path", "GET", env.url + "/api/" + uuid + "/elsewhere", 404, map[string]any{"status": 404.0, "message": "Error: Not found."}, ""},
		{"missing action", "GET", base + "/missing", 404, map[string]any{"error": msgNotFound}, ""},
		{"not a web action", "GET", base + "/plain", 404, map[string]any{"error": msgNotFound}, ""},
		{"secure key set by the gateway", "GET", base + "/keyed", 200, map[string]any{owMethod: "get"}, ""},
		{"not a tenant", "GET", env.url + "/api/v1/nothing", 404, map[string]any{"error": msgNotFound}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := webCall(t, tc.method, tc.url, "", nil, "")
			if resp.status != tc.status {
				t.Fatalf("status %d %s, want %d", resp.status, resp.body, tc.status)
			}
			if tc.text != "" && string(resp.body) != tc.text {
				t.Errorf("body %q, want %q", resp.body, tc.text)
			}
			if tc.want == nil {
				return
			}
			var m map[string]any
			if err := json.Unmarshal(resp.body, &m); err != nil {
				t.Fatalf("body %q: %v", resp.body, err)
			}
			for k, v := range tc.want {
				if !reflect.DeepEqual(m[k], v) {
					t.Errorf("%s = %v, want %v (answer %v)", k, m[k], v, m)
				}
			}
		})
	}
	// Without the gateway's header the keyed action refuses the caller.
	if resp := webCall(t, "GET", env.url+"/api/v1/web/guest/default/keyed.json", "", nil, ""); resp.status != 401 {
		t.Errorf("keyed web action without its key: %d %s", resp.status, resp.body)
	}
	// The gateway answers a CORS preflight itself.
	resp := webCall(t, "OPTIONS", base+"/world", "", map[string]string{"Origin": "http://site", "Access-Control-Request-Headers": "X-Y"}, "")
	if resp.status != 200 || resp.header.Get("Access-Control-Allow-Origin") != "http://site" || resp.header.Get("Access-Control-Allow-Headers") != "X-Y" {
		t.Errorf("preflight: %d %v", resp.status, resp.header)
	}
}

func TestAPIRouteErrors(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "hello", webExported("echo"))
	createRoute(t, env, routeDoc(env, "/hello", "/world", "get", "hello"), "json")
	without := func(field string) map[string]any {
		d := routeDoc(env, "/x", "/y", "get", "hello")
		delete(d, field)
		return map[string]any{"apidoc": d}
	}
	noAuthKey := routeDoc(env, "/x", "/y", "get", "hello")
	delete(noAuthKey["action"].(map[string]any), "authkey")
	tests := []struct {
		name, method, op, key string
		q                     url.Values
		body                  any
		msg                   string
	}{
		{"create without auth", "POST", "createApi", "", nil, map[string]any{"apidoc": routeDoc(env, "/x", "/y", "get", "hello")}, "A valid auth key is required."},
		{"no apidoc", "POST", "createApi", env.key, nil, map[string]any{}, "apidoc is required."},
		{"apidoc not JSON", "POST", "createApi", env.key, nil, map[string]any{"apidoc": "{"}, "apidoc field cannot be parsed. Ensure it is valid JSON."},
		{"apidoc a number", "POST", "createApi", env.key, nil, map[string]any{"apidoc": 3}, "apidoc field is of type number and should be a JSON object or a JSON string."},
		{"no namespace", "POST", "createApi", env.key, nil, without("namespace"), "apidoc is missing the namespace field"},
		{"no path", "POST", "createApi", env.key, nil, without("gatewayPath"), "apidoc is missing the gatewayPath field"},
		{"no action", "POST", "createApi", env.key, nil, without("action"), "apidoc is missing the action field."},
		{"no authkey", "POST", "createApi", env.key, nil, map[string]any{"apidoc": noAuthKey}, "action is missing the authkey field."},
		{"path parameters want http", "POST", "createApi", env.key, url.Values{"responsetype": {"json"}},
			map[string]any{"apidoc": routeDoc(env, "/x", "/b/{id}", "get", "hello")},
			"API creation failure: The action must use a response type of '.http' in order to receive the path parameters."},
		{"base path parameters", "POST", "createApi", env.key, url.Values{"responsetype": {"http"}},
			map[string]any{"apidoc": routeDoc(env, "/x/{id}", "/b", "get", "hello")},
			"API creation failure: The base path (/x/{id}) cannot have parameters. Only the relative path supports path parameters."},
		{"swagger and base path", "POST", "createApi", env.key, nil,
			map[string]any{"apidoc": map[string]any{"namespace": "_", "gatewayBasePath": "/x", "swagger": "{}"}},
			"swagger and gatewayBasePath are mutually exclusive and cannot be specified together."},
		{"swagger without paths", "POST", "createApi", env.key, nil,
			map[string]any{"apidoc": map[string]any{"namespace": "_", "swagger": `{"basePath":"/x","info":{}}`}},
			"swagger is missing the paths field."},
		{"get without auth", "GET", "getApi", "", nil, nil, "Invalid authentication."},
		{"delete without base path", "DELETE", "deleteApi", env.key, nil, nil, "basepath is required."},
		{"delete operation without path", "DELETE", "deleteApi", env.key, url.Values{"basepath": {"/hello"}, "operation": {"get"}}, nil,
			"When specifying an operation, the path is required."},
		{"delete unknown api", "DELETE", "deleteApi", env.key, url.Values{"basepath": {"/nope"}}, nil, "API deletion failure: API '/nope' does not exist."},
		{"delete unknown path", "DELETE", "deleteApi", env.key, url.Values{"basepath": {"/hello"}, "relpath": {"/nope"}}, nil,
			"API deletion failure: path '/nope' does not exist in the API"},
		{"delete unknown operation", "DELETE", "deleteApi", env.key, url.Values{"basepath": {"/hello"}, "relpath": {"/world"}, "operation": {"POST"}}, nil,
			"API deletion failure: path '/world' with operation 'post' does not exist in the API"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, m := mgmt(t, env, tc.method, tc.op, tc.key, tc.q, tc.body)
			if status != 502 || m["error"] != tc.msg {
				t.Errorf("%d %v, want 502 %q", status, m, tc.msg)
			}
		})
	}
	// None of them changed the API.
	if apis := listRoutes(t, env, nil); len(apis) != 1 || len(dig(apis[0], "value", "apidoc", "paths").(map[string]any)) != 1 {
		t.Errorf("apis after errors: %v", apis)
	}
}

func TestAPIRouteReplaceAndDelete(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "hello", webExported("echo"))
	mustPut(t, env.c, "other", webExported("echo"))
	createRoute(t, env, routeDoc(env, "/hello", "/world", "get", "hello"), "json")
	// The same route again replaces the operation, as addEndpointToSwaggerApi does.
	createRoute(t, env, routeDoc(env, "/hello", "/world", "get", "other"), "json")
	createRoute(t, env, routeDoc(env, "/hello", "/world", "post", "hello"), "json")
	createRoute(t, env, routeDoc(env, "/hello", "/moon", "get", "hello"), "json")
	apis := listRoutes(t, env, nil)
	if len(apis) != 1 || dig(apis[0], "value", "apidoc", "paths", "/world", "get", "x-openwhisk", "action") != "other" {
		t.Fatalf("after the duplicate: %v", apis)
	}
	cases := string(mustJSON(dig(apis[0], "value", "apidoc", "x-ibm-configuration")))
	if strings.Count(cases, `"getWorld"`) != 1 || strings.Contains(cases, "hello.json\",\"verb\":\"keep\"}}]},{\"operations\":[\"getWorld") {
		t.Errorf("gateway cases %s", cases)
	}
	steps := []struct {
		q     url.Values
		paths []string // left; nil: the API is gone
	}{
		{url.Values{"basepath": {"/hello"}, "relpath": {"/world"}, "operation": {"GET"}}, []string{"/moon", "/world"}},
		{url.Values{"basepath": {"/hello"}, "relpath": {"/world"}}, []string{"/moon"}},
		{url.Values{"basepath": {"/hello"}, "relpath": {"/moon"}, "operation": {"get"}}, nil},
	}
	for i, st := range steps {
		if status, m := mgmt(t, env, "DELETE", "deleteApi", env.key, st.q, nil); status != 200 || len(m) != 0 {
			t.Fatalf("step %d: delete %v: %d %v", i, st.q, status, m)
		}
		apis := listRoutes(t, env, nil)
		var paths []string
		if len(apis) == 1 {
			for p := range dig(apis[0], "value", "apidoc", "paths").(map[string]any) {
				paths = append(paths, p)
			}
		}
		slices.Sort(paths)
		if !reflect.DeepEqual(paths, st.paths) {
			t.Errorf("step %d: paths %v, want %v", i, paths, st.paths)
		}
	}
	// A whole API by name.
	createRoute(t, env, routeDoc(env, "/hello", "/world", "get", "hello"), "json")
	if status, m := mgmt(t, env, "DELETE", "deleteApi", env.key, url.Values{"basepath": {"/hello"}}, nil); status != 200 {
		t.Fatalf("delete api: %d %v", status, m)
	}
	if apis := listRoutes(t, env, nil); len(apis) != 0 {
		t.Errorf("after deleting the API: %v", apis)
	}
}

func TestAPIRoutePersists(t *testing.T) {
	dir := t.TempDir()
	env := startPlatform(t, Config{DataDir: dir})
	mustPut(t, env.c, "hello", webExported("echo"))
	createRoute(t, env, routeDoc(env, "/hello", "/world", "get", "hello"), "json")
	createRoute(t, env, routeDoc(env, "/gone", "/x", "get", "hello"), "json")
	if status, m := mgmt(t, env, "DELETE", "deleteApi", env.key, url.Values{"basepath": {"/gone"}}, nil); status != 200 {
		t.Fatalf("delete: %d %v", status, m)
	}
	env.p.Close()

	again := startPlatform(t, Config{DataDir: dir})
	apis := listRoutes(t, again, nil)
	if len(apis) != 1 || dig(apis[0], "value", "apidoc", "basePath") != "/hello" {
		t.Fatalf("after restart: %v", apis)
	}
	u := dig(apis[0], "value", "gwApiUrl").(string) + "/world?n=1"
	resp := webCall(t, "GET", u, "", nil, "")
	var m map[string]any
	if err := json.Unmarshal(resp.body, &m); resp.status != 200 || err != nil || m["n"] != "1" {
		t.Errorf("route after restart: %d %s", resp.status, resp.body)
	}
}

// TestAPIRouteSwagger creates an API from a whole swagger document, as
// wsk api create --config-file and the npm client's swagger option send it.
func TestAPIRouteSwagger(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "hello", webExported("echo"))
	createRoute(t, env, routeDoc(env, "/club", "/books", "get", "hello"), "json")
	exported := listRoutes(t, env, url.Values{"basepath": {"/club"}})[0]
	swagger := dig(exported, "value", "apidoc")
	if status, m := mgmt(t, env, "DELETE", "deleteApi", env.key, url.Values{"basepath": {"/club"}}, nil); status != 200 {
		t.Fatalf("delete: %d %v", status, m)
	}
	created := createRoute(t, env, map[string]any{"namespace": "_", "swagger": string(mustJSON(swagger))}, "")
	if !reflect.DeepEqual(created["apidoc"], swagger) {
		t.Errorf("apidoc %v, want the swagger %v", created["apidoc"], swagger)
	}
	resp := webCall(t, "GET", created["gwApiUrl"].(string)+"/books?q=1", "", nil, "")
	if resp.status != 200 || !strings.Contains(string(resp.body), `"q": "1"`) {
		t.Errorf("route from swagger: %d %s", resp.status, resp.body)
	}
}
