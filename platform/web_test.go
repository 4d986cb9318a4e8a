package platform

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// The cases here are ported from OpenWhisk's
// tests/.../core/controller/test/WebActionsApiTests.scala and
// tests/.../core/cli/test/WskWebActionsTests.scala, against real actions:
// export_c echoes its input (OpenWhisk's stub answers {pkg, action,
// content} with content the input), respond answers the JSON given in
// query parameter r.

var webAllMethods = []string{"GET", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "HEAD"}

// webEntityMethods are allowedMethodsWithEntity.
var webEntityMethods = []string{"POST", "PUT", "DELETE", "PATCH", "GET", "OPTIONS"}

const pngSample = "iVBORw0KGgoAAAANSUhEUgAAAAoAAAAGCAYAAAD68A/GAAAA/klEQVQYGWNgAAEHBxaG//+ZQMyyn581Pfas+cRQnf1LfF" +
	"Ljf+62smUgcUbt0FA2Zh7drf/ffMy9vLn3RurrW9e5hCU11i2azfD4zu1/DHz8TAy/foUxsXBrFzHzC7r8+M9S1vn1qxQT07dDjL" +
	"9fdemrqKxlYGT6z8AIMo6hgeUfA0PUvy9fGFh5GWK3z7vNxSWt++jX99+8SoyiGQwsW38w8PJEM7x5v5SJ8f+/xv8MDAzffv9hev" +
	"fkWjiXBGMpMx+j2awovjcMjFztDO8+7GF49LkbZDCDeXLTWnZO7qDfn1/+5jbw/8pjYWS4wZLztXnuEuYTk2M+MzIw/AcA36Vewa" +
	"D6fzsAAAAASUVORK5CYII="

const webAuthKey = "example-web-action-api-key"

type webResp struct {
	status int
	header http.Header
	body   []byte
}

func webCall(t *testing.T, method, u, key string, hdr map[string]string, body string) webResp {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if id, secret, ok := strings.Cut(key, ":"); ok {
		req.SetBasicAuth(id, secret)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return webResp{resp.StatusCode, resp.Header, b}
}

// webActions creates the fixtures: OpenWhisk's stub actions carry final
// and the default parameters y, z and empty (null).
func webActions(t *testing.T, c *whisk.Client) {
	params := whisk.KeyValues{{Key: "y", Value: "Y"}, {Key: "z", Value: "Z"}, {Key: "empty", Value: nil}}
	for _, f := range []struct {
		name, mode string
		ann        whisk.KeyValues
	}{
		{"c", "echo", nil},
		{"export_c", "echo", whisk.KeyValues{{Key: "web-export", Value: true}, {Key: "web-custom-options", Value: true}}},
		{"export_without_custom_options", "echo", whisk.KeyValues{{Key: "web-export", Value: true}}},
		{"respond", "respond", whisk.KeyValues{{Key: "web-export", Value: true}, {Key: "web-custom-options", Value: true}}},
		{"respond_cors", "respond", whisk.KeyValues{{Key: "web-export", Value: true}}},
		{"export_auth", "echo", whisk.KeyValues{{Key: "web-export", Value: true}, {Key: "require-whisk-auth", Value: true}}},
		{"export_key", "echo", whisk.KeyValues{{Key: "web-export", Value: true}, {Key: "require-whisk-auth", Value: webAuthKey}}},
		{"export_noauth", "echo", whisk.KeyValues{{Key: "web-export", Value: true}, {Key: "require-whisk-auth", Value: false}}},
		{"respond_auth", "respond", whisk.KeyValues{{Key: "web-export", Value: true}, {Key: "web-custom-options", Value: true}, {Key: "require-whisk-auth", Value: true}}},
		{"raw_export_c", "echo", whisk.KeyValues{{Key: "web-export", Value: true}, {Key: "raw-http", Value: true}, {Key: "web-custom-options", Value: true}}},
	} {
		a := testAction(f.mode)
		a.Parameters = params
		a.Annotations = append(whisk.KeyValues{{Key: "final", Value: true}}, f.ann...)
		mustPut(t, c, f.name, a)
	}
}

// webContent is what export_c answers for a request: the defaults, the
// request's fields, then extra.
func webContent(method string, auth bool, path string, extra map[string]any) map[string]any {
	m := map[string]any{"y": "Y", "z": "Z", "empty": nil, owMethod: strings.ToLower(method), owPath: path}
	if auth {
		m[owUser] = "guest"
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func respondURL(base, ext string, result any) string {
	b, _ := json.Marshal(result)
	return base + "respond" + ext + "?r=" + url.QueryEscape(string(b))
}

// checkContent compares an echo's answer with want; __ow_headers must
// hold wantHeaders.
func checkContent(t *testing.T, r webResp, want map[string]any, wantHeaders map[string]string) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("%d %q: %v", r.status, r.body, err)
	}
	hs, _ := got[owHeaders].(map[string]any)
	if hs == nil {
		t.Fatalf("no %s in %s", owHeaders, r.body)
	}
	for k, v := range wantHeaders {
		if hs[k] != v {
			t.Errorf("%s[%s] = %v, want %q", owHeaders, k, hs[k], v)
		}
	}
	delete(got, owHeaders)
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		t.Errorf("content %s, want %s", gb, wb)
	}
}

func checkError(t *testing.T, r webResp, status int, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d (%s), want %d", r.status, r.body, status)
	}
	var e map[string]any
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if len(e) != 2 || e["code"] == nil || (msg != "" && e["error"] != msg) {
		t.Errorf("error %s, want %q and a code", r.body, msg)
	}
}

func TestWebActionRoutes(t *testing.T) {
	env := startPlatform(t, Config{})
	webActions(t, env.c)
	base := env.url + "/api/v1/web/"
	for _, auth := range []bool{false, true} {
		key := ""
		if auth {
			key = env.key
		}
		tests := []struct {
			name    string
			paths   []string
			methods []string
			header  map[string]string
			status  int
			msg     string
		}{
			{"not match invalid routes", []string{"a", "a/b", "/a", "guest/c", "guest/export_c"}, webAllMethods, nil, 404, ""},
			{"lookup fails or missing annotation",
				[]string{"nobody/proxy/c", "guest/doesnotexist/c", "guest/default/c", "guest/default/export_fail",
					"nobody/proxy/c.json", "guest/doesnotexist/c.json", "guest/default/c.json", "guest/default/export_fail.json"},
				webAllMethods, nil, 404, msgNotFound},
			{"unknown extensions", []string{"guest/default/export_c.xyz", "guest/default/export_c.xyz/", "guest/default/export_c.xyz/content",
				"guest/default/export_c.xyzz", "guest/default/export_c.xyzz/", "guest/default/export_c.xyzz/content"}, webAllMethods, nil, 404, msgNotFound},
			{"whisk auth required", []string{"guest/default/export_auth.json"}, []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}, nil, map[bool]int{false: 401, true: 200}[auth], ""},
			{"x-require-whisk-auth bad", []string{"guest/default/export_key.json"}, webAllMethods, map[string]string{"X-Require-Whisk-Auth": webAuthKey + "-bad"}, 401, msgUnauthorized},
			{"x-require-whisk-auth missing", []string{"guest/default/export_key.json"}, webAllMethods, nil, 401, msgUnauthorized},
			{"require-whisk-auth false", []string{"guest/default/export_noauth.json"}, webAllMethods, nil, 200, ""},
		}
		for _, tc := range tests {
			for _, p := range tc.paths {
				for _, m := range tc.methods {
					r := webCall(t, m, base+p, key, tc.header, "")
					want := tc.status
					if m == "OPTIONS" && tc.status == 401 {
						want = 200 // OPTIONS answers without authentication
					}
					if r.status != want {
						t.Errorf("auth %v %s: %s %s: %d %s, want %d", auth, tc.name, m, p, r.status, r.body, want)
						continue
					}
					if tc.msg != "" && want != 200 && m != "HEAD" {
						checkError(t, r, want, tc.msg)
					}
				}
			}
		}
	}
}

func TestWebActionRequireAuth(t *testing.T) {
	env := startPlatform(t, Config{})
	webActions(t, env.c)
	base := env.url + "/api/v1/web/guest/default/"
	for _, m := range webAllMethods {
		r := webCall(t, m, base+"export_auth.json", env.key, nil, "")
		if m == "OPTIONS" {
			if r.status != 200 || r.header.Get("Access-Control-Allow-Methods") != corsAllowMethods || r.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("OPTIONS: %d %v", r.status, r.header)
			}
			continue
		}
		if m == "HEAD" {
			continue
		}
		checkContent(t, r, webContent(m, true, "", nil), nil)
		r = webCall(t, m, base+"export_key.json", "", map[string]string{"X-Require-Whisk-Auth": webAuthKey}, "")
		checkContent(t, r, webContent(m, false, "", nil), map[string]string{"x-require-whisk-auth": webAuthKey})
		// Wrong credentials are no credentials.
		r = webCall(t, m, base+"export_auth.json", testKey, nil, "")
		checkError(t, r, 401, msgUnauthorized)
	}
}

func TestWebActionArguments(t *testing.T) {
	env := startPlatform(t, Config{})
	webActions(t, env.c)
	base := env.url + "/api/v1/web/guest/default/"
	jsonCT := map[string]string{"Content-Type": "application/json"}
	ab := map[string]any{"a": "b", "c": "d"}
	extra := map[string]any{"extra": "read all about it", "yummy": true}
	extraJSON := `{"extra":"read all about it","yummy":true}`
	for _, auth := range []bool{false, true} {
		key := ""
		if auth {
			key = env.key
		}
		tests := []struct {
			name    string
			methods []string
			path    string // after base
			header  map[string]string
			body    string
			upath   string // __ow_path
			extra   map[string]any
			headers map[string]string // in __ow_headers
		}{
			{"merge query parameters", webEntityMethods, "export_c.json?a=b&c=d", nil, "", "", ab, nil},
			{"merge body parameters", webEntityMethods, "export_c.json", jsonCT, extraJSON, "", extra, map[string]string{"content-type": "application/json"}},
			{"trailing slash is ok", webEntityMethods, "export_c.json/", jsonCT, extraJSON, "/", extra, nil},
			{"empty entity", webEntityMethods, "export_c.json", jsonCT, "", "", nil, map[string]string{"content-type": "application/json"}},
			{"empty array entity", webEntityMethods, "export_c.json", jsonCT, "[]", "", map[string]any{owBody: []any{}}, nil},
			{"empty object entity", webEntityMethods, "export_c.json", jsonCT, "{}", "", nil, nil},
			{"null entity", webEntityMethods, "export_c.json", jsonCT, "null", "", map[string]any{owBody: nil}, nil},
			{"merge query and body parameters", webEntityMethods, "export_c.json?a=b&c=d", jsonCT, extraJSON, "", map[string]any{"a": "b", "c": "d", "extra": "read all about it", "yummy": true}, nil},
			{"default package", webEntityMethods, "export_c.json", nil, "", "", nil, nil},
			{"unmatched segment", webEntityMethods, "export_c.json/content", nil, "", "/content", nil, nil},
			{"unmatched segments", webEntityMethods, "export_c.json/a/b", nil, "", "/a/b", nil, nil},
			{"override a final parameter without a value", webEntityMethods, "export_c.json?empty=overridden", nil, "", "", map[string]any{"empty": "overridden"}, nil},
			{"formdata", []string{"POST"}, "export_c.json", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "field1=value1&field2=value2", "", map[string]any{"field1": "value1", "field2": "value2"}, nil},
			{"inline body not an object", []string{"POST"}, "export_c.json", map[string]string{"Content-Type": "text/html; charset=UTF-8"}, "1,2,3", "", map[string]any{owBody: "1,2,3"}, map[string]string{"content-type": "text/html; charset=UTF-8"}},
			{"JSON string body as is", []string{"POST"}, "export_c.json", jsonCT, `"this is a string"`, "", map[string]any{owBody: "this is a string"}, nil},
			{"JSON array body as is", []string{"POST"}, "export_c.json", jsonCT, `[1,"str str",false]`, "", map[string]any{owBody: []any{1.0, "str str", false}}, nil},
			{"JSON true body as is", []string{"POST"}, "export_c.json", jsonCT, `true`, "", map[string]any{owBody: true}, nil},
			{"JSON number body as is", []string{"POST"}, "export_c.json", jsonCT, `99`, "", map[string]any{owBody: 99.0}, nil},
			{"binary body is base64", []string{"POST"}, "export_c.json", map[string]string{"Content-Type": "image/png"}, string(mustDecode(pngSample)), "", map[string]any{owBody: pngSample}, map[string]string{"content-type": "image/png"}},
			{"+json subtypes", []string{"POST"}, "export_c.json", map[string]string{"Content-Type": "application/cloudevents+json; charset=UTF-8"}, `{"field1":"value1"}`, "", map[string]any{"field1": "value1"}, nil},
			{"raw: query and body", []string{"POST"}, "raw_export_c.json?key1=value1&key2=value2", jsonCT, `{"a":"A","b":"B"}`, "",
				map[string]any{owQuery: "key1=value1&key2=value2", owBody: base64.StdEncoding.EncodeToString([]byte(`{"a":"A","b":"B"}`))}, nil},
			{"raw: text body", []string{"POST"}, "raw_export_c.json?key1=value1&key2=value2", jsonCT, `1,2,3`, "",
				map[string]any{owQuery: "key1=value1&key2=value2", owBody: base64.StdEncoding.EncodeToString([]byte(`1,2,3`))}, nil},
			{"raw: final parameters may overlap", []string{"POST"}, "raw_export_c.json?x=overridden&y=overridden", nil, "", "",
				map[string]any{owQuery: "x=overridden&y=overridden", owBody: ""}, nil},
			{"raw: empty strings when not given", []string{"POST"}, "raw_export_c.json", nil, "", "", map[string]any{owQuery: "", owBody: ""}, nil},
		}
		for _, tc := range tests {
			for _, m := range tc.methods {
				r := webCall(t, m, base+tc.path, key, tc.header, tc.body)
				if r.status != 200 {
					t.Errorf("auth %v %s: %s: %d %s", auth, tc.name, m, r.status, r.body)
					continue
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("%s: content type %q", tc.name, ct)
				}
				checkContent(t, r, webContent(m, auth, tc.upath, tc.extra), tc.headers)
			}
		}
		// A request without a body says no content type
		// (WskWebActionsTests: __ow_headers contains the proper content-type).
		r := webCall(t, "GET", base+"export_c.json", key, nil, "")
		var got map[string]map[string]any
		_ = json.Unmarshal(r.body, &got)
		if _, ok := got[owHeaders]["content-type"]; ok {
			t.Errorf("GET without a body: %s has a content type", r.body)
		}
	}
}

func mustDecode(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestWebActionRefusals(t *testing.T) {
	env := startPlatform(t, Config{})
	webActions(t, env.c)
	base := env.url + "/api/v1/web/guest/default/"
	jsonCT := map[string]string{"Content-Type": "application/json"}
	type req struct {
		path, body string
	}
	var reqs []req
	for _, p := range owReserved {
		reqs = append(reqs, req{"export_c.json?" + p + "=YYY", ""}, req{"export_c.json", `{"` + p + `":"YYY"}`})
	}
	reqs = append(reqs, req{"export_c.json?y=overridden", ""}, req{"export_c.json", `{"z":"overridden"}`},
		req{"export_c.json?a=overridden", `{"z":"overridden"}`})
	for _, rq := range reqs {
		for _, m := range webEntityMethods {
			if m == "OPTIONS" {
				continue // export_c has custom options: OPTIONS is the action's
			}
			r := webCall(t, m, base+rq.path, "", jsonCT, rq.body)
			checkError(t, r, 400, msgParamsNotAllowed)
		}
	}
	big := `{"a":"` + strings.Repeat("a", maxPayload) + `"}`
	r := webCall(t, "POST", base+"export_c.json", "", jsonCT, big)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("large entity: %d %s", r.status, r.body)
	}
	r = webCall(t, "POST", base+"export_c.json", "", jsonCT, `{"a":`)
	checkError(t, r, 400, msgMalformedBody)
}

// TestWebActionInPackage reaches a web action through its package and
// through a binding, each adding its parameters under the action's, as an
// invoke resolves it; the record names the binding it came through.
func TestWebActionInPackage(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPutPackage(t, env.c, "pkg", &whisk.Package{Parameters: whisk.KeyValues{{Key: "from", Value: "package"}, {Key: "p", Value: 1}}})
	mustPutPackage(t, env.c, "bound", &whisk.Package{Binding: &whisk.Binding{Namespace: "guest", Name: "pkg"},
		Parameters: whisk.KeyValues{{Key: "from", Value: "binding"}}})
	a := testAction("echo")
	a.Annotations = whisk.KeyValues{{Key: "web-export", Value: true}}
	a.Parameters = whisk.KeyValues{{Key: "own", Value: true}}
	mustPut(t, env.c, "pkg/w", a)
	base := env.url + "/api/v1/web/guest/"
	for via, from := range map[string]string{"pkg": "package", "bound": "binding"} {
		r := webCall(t, "GET", base+via+"/w.json", "", nil, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", via, r.status, r.body)
		}
		var got map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		if got["from"] != from || got["p"] != 1.0 || got["own"] != true {
			t.Errorf("through %s: %s, want the parameters of the %s, the package's and the action's", via, r.body, from)
		}
		rec := mustGetActivation(t, env.c, r.header.Get(whisk.ActivationIDHeader))
		b, _ := annotation(rec, "binding")
		if want := map[string]any{"pkg": nil, "bound": "guest/bound"}[via]; b != want {
			t.Errorf("through %s: binding annotation %v, want %v", via, b, want)
		}
	}
}
