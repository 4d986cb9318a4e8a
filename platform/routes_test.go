package platform

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestJSONForEveryPath checks that paths the mux would redirect and
// methods a path does not take get OpenWhisk's JSON error, not the mux's
// redirect or text.
func TestJSONForEveryPath(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "echo", testAction("echo"))
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/api/v1/namespaces/_/actions/../actions/echo", 404, ""},
		{"GET", "/api/v1/namespaces/_/actions/x/../echo", 404, ""},
		{"GET", "/api/v1//namespaces", 404, ""},
		{"GET", "//api/v1/namespaces", 404, ""},
		{"PUT", "/api/v1/namespaces/_/actions//echo", 404, ""},
		{"GET", "/api/v1/namespaces/_/./actions", 404, ""},
		{"GET", "/api/v1/namespaces/_/actions/%2E%2E/x", 404, ""},
		{"PUT", "/api/v1/namespaces/_/actions", 405, "GET"},
		{"POST", "/api/v1/namespaces/_/actions", 405, "GET"},
		{"PATCH", "/api/v1/namespaces/_/actions/echo", 405, "PUT, GET, DELETE, POST"},
		{"DELETE", "/api/v1/namespaces", 405, "GET"},
		{"POST", "/api/v1/namespaces/_/activations/0123456789abcdef0123456789abcdef", 405, "GET"},
		{"GET", "/nothing/here", 404, ""},
	}
	for _, tc := range tests {
		status, body := rawRequest(t, tc.method, env.url+tc.path, env.key, "{}")
		if status != tc.status {
			t.Errorf("%s %s: status %d %v, want %d", tc.method, tc.path, status, body, tc.status)
		}
		if code, _ := body["code"].(string); body["error"] == nil || len(code) != 32 {
			t.Errorf("%s %s: body %v is not an OpenWhisk error", tc.method, tc.path, body)
		}
		if tc.allow != "" && body["error"] != msgMethodNotAllowed+tc.allow {
			t.Errorf("%s %s: error %v, want the allowed methods %s", tc.method, tc.path, body["error"], tc.allow)
		}
	}
	// The canonical path still works.
	if status, body := rawRequest(t, "GET", env.url+"/api/v1/namespaces/_/actions/echo", env.key, ""); status != 200 || body["name"] != "echo" {
		t.Errorf("canonical path: %d %v", status, body)
	}
	// "OPTIONS *" is answered by the server itself unless told otherwise.
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 404 || m["error"] != msgNotFound {
		t.Errorf("OPTIONS *: %d %v %v", resp.StatusCode, m, err)
	}
}
