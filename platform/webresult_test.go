package platform

import (
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// TestWebActionResults ports WebActionsApiTests' cases of the extensions
// and of the .http convention: respond answers the result each case gives.
func TestWebActionResults(t *testing.T) {
	env := startPlatform(t, Config{})
	webActions(t, env.c)
	base := env.url + "/api/v1/web/guest/default/"
	obj := map[string]any{"field": "value"}
	objText := `{"field":"value"}`
	svg := `<svg><circle cx="3" cy="3" r="3" fill="blue"/></svg>`
	tests := []struct {
		name   string
		ext    string
		result any
		accept string
		status int
		ctype  string // "" wants none
		body   string // the exact body, unless err is set
		err    string // the error message of an {error, code} answer
		header [][2]string
	}{
		{"status code and headers", ".http", map[string]any{"headers": map[string]any{"location": "http://openwhisk.org"}, "statusCode": 302}, "", 302, "", "", "", [][2]string{{"Location", "http://openwhisk.org"}}},
		{"non-standard status code", ".http", map[string]any{"statusCode": 444}, "", 444, "", "", "", nil},
		{"string status code", ".http", map[string]any{"statusCode": "200"}, "", 200, "", "", "", nil},
		{"string non-standard status code", ".http", map[string]any{"statusCode": "444"}, "", 444, "", "", "", nil},
		{"bad string status code", ".http", map[string]any{"statusCode": "xyz"}, "", 400, "", "", msgInvalidMedia("message/http"), nil},
		{"fractional status code", ".http", map[string]any{"statusCode": 200.5}, "", 400, "", "", msgInvalidMedia("message/http"), nil},
		{"default text projection", ".text", map[string]any{"text": "default text"}, "", 200, "text/plain; charset=UTF-8", "default text", "", nil},
		{"text property missing", ".text", map[string]any{"foobar": "x"}, "", 404, "", "", msgPropertyNotFound, nil},
		{"json pretty printed", ".json", map[string]any{"foobar": "foobar"}, "", 200, "application/json", "{\n  \"foobar\": \"foobar\"\n}", "", nil},
		{"html", ".html", map[string]any{"html": "<html>hi</htlml>"}, "", 200, "text/html; charset=UTF-8", "<html>hi</htlml>", "", nil},
		{"html is not a string", ".html", map[string]any{"html": 1}, "", 400, "", "", msgInvalidMedia("text/html"), nil},
		{"svg", ".svg", map[string]any{"svg": svg}, "", 200, "image/svg+xml", svg, "", nil},
		{"empty result is no content", ".http", map[string]any{}, "", 204, "", "", "", nil},
		{"empty body is no content", ".http", map[string]any{"body": ""}, "", 204, "", "", "", nil},
		{"null body is no content", ".http", map[string]any{"body": nil}, "application/json", 204, "", "", "", nil},
		{"text: object", ".text", map[string]any{"body": map[string]any{"a": "A"}}, "", 200, "text/plain; charset=UTF-8", "{\n  \"a\": \"A\"\n}", "", nil},
		{"text: array", ".text", map[string]any{"body": []any{"a"}}, "", 200, "text/plain; charset=UTF-8", `["a"]`, "", nil},
		{"text: string", ".text", map[string]any{"body": "a"}, "", 200, "text/plain; charset=UTF-8", "a", "", nil},
		{"text: true", ".text", map[string]any{"body": true}, "", 200, "text/plain; charset=UTF-8", "true", "", nil},
		{"text: number", ".text", map[string]any{"body": 1}, "", 200, "text/plain; charset=UTF-8", "1", "", nil},
		{"text: null", ".text", map[string]any{"body": nil}, "", 200, "text/plain; charset=UTF-8", "null", "", nil},
		{"JSON object as string", ".http", map[string]any{"headers": map[string]any{"content-type": "application/json"}, "statusCode": 201, "body": objText}, "", 201, "application/json", objText, "", nil},
		{"no status code", ".http", map[string]any{"headers": map[string]any{"content-type": "application/json"}, "body": obj}, "", 200, "application/json", "{\n  \"field\": \"value\"\n}", "", nil},
		{"no status code and headers", ".http", map[string]any{"body": objText}, "", 200, "text/html; charset=UTF-8", objText, "", nil},
		{"no headers", ".http", map[string]any{"statusCode": 201, "body": objText}, "", 201, "text/html; charset=UTF-8", objText, "", nil},
		{"no body, headers", ".http", map[string]any{"headers": map[string]any{"Set-Cookie": "a=b", "content-type": "application/json"}, "statusCode": 200}, "application/json", 200, "", "", "", [][2]string{{"Set-Cookie", "a=b"}}},
		{"JSON object, no content type", ".http", map[string]any{"headers": map[string]any{}, "statusCode": 200, "body": obj}, "", 200, "application/json", "{\n  \"field\": \"value\"\n}", "", nil},
		{"JSON object as text/html", ".http", map[string]any{"headers": map[string]any{"content-type": "text/html"}, "statusCode": 200, "body": obj}, "", 400, "", "", msgHTTPContentTypeError, nil},
		{"base64 known +json", ".http", map[string]any{"headers": map[string]any{"content-type": "application/json-patch+json"}, "statusCode": 200, "body": base64.StdEncoding.EncodeToString([]byte(objText))}, "", 200, "application/json-patch+json", objText, "", nil},
		{"known +json", ".http", map[string]any{"headers": map[string]any{"content-type": "application/json-patch+json"}, "statusCode": 200, "body": obj}, "", 200, "application/json-patch+json", "{\n  \"field\": \"value\"\n}", "", nil},
		{"unknown +json", ".http", map[string]any{"headers": map[string]any{"content-type": "application/hal+json"}, "statusCode": 200, "body": obj}, "", 200, "application/hal+json", "{\n  \"field\": \"value\"\n}", "", nil},
		{"JSON number", ".http", map[string]any{"statusCode": 200, "body": 3}, "", 200, "application/json", "3", "", nil},
		{"base64 binary", ".http", map[string]any{"headers": map[string]any{"Content-Type": "image/png"}, "body": pngSample}, "", 200, "image/png", string(mustDecode(pngSample)), "", nil},
		{"binary that is not base64", ".http", map[string]any{"headers": map[string]any{"Content-Type": "image/png"}, "body": "not base64!"}, "", 400, "", "", msgHTTPContentTypeError, nil},
		{"html/text", ".http", map[string]any{"statusCode": 200, "body": "hello world"}, "", 200, "text/html; charset=UTF-8", "hello world", "", nil},
		{"application/json with text", ".http", map[string]any{"headers": map[string]any{"content-type": "application/json"}, "statusCode": 200, "body": "hello world"}, "", 200, "application/json", "hello world", "", nil},
		{"invalid content type", ".http", map[string]any{"headers": map[string]any{"content-type": "xyzbar"}, "statusCode": 200, "body": "hello world"}, "", 400, "", "", msgHTTPUnknownContentType, nil},
		{"application error", ".http", map[string]any{"error": map[string]any{"statusCode": 200, "body": "no hello for you"}}, "", 200, "text/html; charset=UTF-8", "no hello for you", "", nil},
		{"application error not JSON", ".json", map[string]any{"error": "bad response type"}, "", 400, "", "", msgInvalidMedia("application/json"), nil},
		{"developer error .json", ".json", map[string]any{"developer_error": "bad response type"}, "", 400, "", "", msgErrorProcessing, nil},
		{"developer error .text", ".text", map[string]any{"developer_error": "bad response type"}, "", 400, "", "", msgErrorProcessing, nil},
		{"multiple header values", ".http", map[string]any{"headers": map[string]any{"Set-Cookie": []any{"a=b", "c=d; Path = /"}}}, "", 204, "", "", "", [][2]string{{"Set-Cookie", "a=b"}, {"Set-Cookie", "c=d; Path = /"}}},
		{"not acceptable", ".http", map[string]any{"body": "Plain text"}, "application/json", 406, "text/plain; charset=UTF-8", "Resource representation is only available with these types:\ntext/html; charset=UTF-8", "", nil},
		{"html accepted", ".html", map[string]any{"html": "<html><body>test</body></html>"}, "text/html", 200, "text/html; charset=UTF-8", "<html><body>test</body></html>", "", nil},
		{"html not acceptable as xml", ".html", map[string]any{"html": "<note/>"}, "text/xml", 406, "text/plain; charset=UTF-8", "Resource representation is only available with these types:\ntext/html; charset=UTF-8", "", nil},
	}
	for _, tc := range tests {
		for _, m := range []string{"GET", "POST", "HEAD"} {
			var hdr map[string]string
			if tc.accept != "" {
				hdr = map[string]string{"Accept": tc.accept}
			}
			r := webCall(t, m, respondURL(base, tc.ext, tc.result), "", hdr, "")
			if r.status != tc.status {
				t.Errorf("%s %s: %d %q, want %d", tc.name, m, r.status, r.body, tc.status)
				continue
			}
			if r.header.Get(whisk.ActivationIDHeader) == "" {
				t.Errorf("%s %s: no activation id header", tc.name, m)
			}
			for _, kv := range tc.header {
				if !contains(r.header.Values(kv[0]), kv[1]) {
					t.Errorf("%s %s: header %s %q, want %q", tc.name, m, kv[0], r.header.Values(kv[0]), kv[1])
				}
			}
			if m == "HEAD" {
				continue
			}
			if tc.err != "" {
				checkError(t, r, tc.status, tc.err)
				// Pretty printed as { error, code }.
				if n := len(strings.Split(string(r.body), "\n")); n != 4 {
					t.Errorf("%s: error %q has %d lines", tc.name, r.body, n)
				}
				continue
			}
			if ct := r.header.Get("Content-Type"); ct != tc.ctype {
				t.Errorf("%s %s: content type %q, want %q", tc.name, m, ct, tc.ctype)
			}
			if string(r.body) != tc.body {
				t.Errorf("%s %s: body %q, want %q", tc.name, m, r.body, tc.body)
			}
		}
	}
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// TestWebActionOptions checks CORS: the platform's headers and OPTIONS
// answer unless the action has web-custom-options, which then answers
// OPTIONS itself, even when it requires authentication.
func TestWebActionOptions(t *testing.T) {
	env := startPlatform(t, Config{})
	webActions(t, env.c)
	base := env.url + "/api/v1/web/guest/default/"
	custom := map[string]any{"headers": map[string]any{"Access-Control-Allow-Methods": "OPTIONS, GET, PATCH"}}
	for _, action := range []string{"respond", "respond_auth"} {
		r := webCall(t, "OPTIONS", respondURL(base, ".http", custom), "", map[string]string{"Access-Control-Request-Headers": "x-custom-header"}, "")
		if action == "respond_auth" {
			r = webCall(t, "OPTIONS", strings.Replace(respondURL(base, ".http", custom), "/respond.http", "/respond_auth.http", 1), "", nil, "")
		}
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "OPTIONS, GET, PATCH" ||
			r.header.Get("Access-Control-Allow-Headers") != "" {
			t.Errorf("%s: custom options %d %v", action, r.status, r.header)
		}
	}
	for _, p := range []string{"export_without_custom_options.http", "export_without_custom_options.json"} {
		for _, h := range []map[string]string{{"Access-Control-Request-Headers": "x-custom-header"}, {"x-custom-header": "value"}} {
			for _, m := range webAllMethods {
				r := webCall(t, m, base+p, "", h, "")
				want := corsAllowHeaders
				if _, ok := h["Access-Control-Request-Headers"]; ok {
					want = "x-custom-header"
				}
				if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Methods") != corsAllowMethods ||
					r.header.Get("Access-Control-Allow-Headers") != want {
					t.Errorf("%s %s %v: %d %v", p, m, h, r.status, r.header)
				}
				if m == "OPTIONS" && (r.status != 200 || len(r.body) != 0 || r.header.Get(whisk.ActivationIDHeader) != "") {
					t.Errorf("%s OPTIONS: %d %q %v, want 200 without invoking", p, r.status, r.body, r.header)
				}
			}
		}
	}
}

// TestWebActionRecord checks that a web action runs as its owner, blocking,
// and leaves its record; sequences and conductors are web actions too.
func TestWebActionRecord(t *testing.T) {
	env := startPlatform(t, Config{})
	webActions(t, env.c)
	base := env.url + "/api/v1/web/guest/default/"
	seq := &whisk.Action{Exec: &whisk.Exec{Kind: "sequence", Components: []string{"/guest/c", "/guest/c"}},
		Annotations: whisk.KeyValues{{Key: "web-export", Value: true}}}
	mustPut(t, env.c, "seq", seq)
	cond := testAction("conductor")
	cond.Annotations = whisk.KeyValues{{Key: "web-export", Value: true}, {Key: "conductor", Value: true}}
	mustPut(t, env.c, "cond", cond)
	for _, tc := range []struct {
		path, kind string
		want       map[string]any
	}{
		{"export_c.json?a=b", "blackbox", map[string]any{"a": "b"}},
		{"seq.json?a=b", "sequence", map[string]any{"a": "b"}},
		{"cond.json?foo=bar", "sequence", map[string]any{"foo": "bar"}},
	} {
		r := webCall(t, "GET", base+tc.path, "", nil, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", tc.path, r.status, r.body)
		}
		var got map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v (%s)", tc.path, k, got[k], v, r.body)
			}
		}
		rec := mustGetActivation(t, env.c, r.header.Get(whisk.ActivationIDHeader))
		name := strings.Split(strings.Split(tc.path, ".")[0], "?")[0]
		if rec.Name != name || rec.Namespace != "guest" || rec.Subject != "guest" || !rec.Response.Success {
			t.Errorf("%s: record %+v", tc.path, rec)
		}
		if k, _ := annotation(rec, "kind"); k != tc.kind {
			t.Errorf("%s: kind %v, want %s", tc.path, k, tc.kind)
		}
		if p, _ := annotation(rec, "path"); p != "guest/"+name {
			t.Errorf("%s: path %v", tc.path, p)
		}
	}
}

// TestWebActionNode runs WskWebActionsTests' echo.js as wsk creates it
// (--web true: web-export, raw-http false, final).
func TestWebActionNode(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: nodejs actions cannot run")
	}
	env := startPlatform(t, Config{})
	a := nodeAction(`function main(params) { return params }`)
	a.Annotations = whisk.KeyValues{{Key: "web-export", Value: true}, {Key: "raw-http", Value: false}, {Key: "final", Value: true}}
	mustPut(t, env.c, "webContenttype", a)
	u := env.url + "/api/v1/web/guest/default/webContenttype.json"
	r := webCall(t, "POST", u, "", map[string]string{"Content-Type": "application/json"}, `{"key":"value"}`)
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %v", r.status, r.body, err)
	}
	if hs, _ := got[owHeaders].(map[string]any); hs["content-type"] != "application/json" || got["key"] != "value" {
		t.Errorf("answer %s", r.body)
	}
	r = webCall(t, "GET", u+"/a?a=A", "", nil, "")
	if err := json.Unmarshal(r.body, &got); err != nil || got["a"] != "A" || got[owPath] != "/a" || got[owMethod] != "get" {
		t.Errorf("GET: %d %s", r.status, r.body)
	}
}
