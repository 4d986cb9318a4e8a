package jsonmux_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wskx/wskx/internal/jsonmux"
)

// TestContainer: the protocol's two routes reach their handlers; unknown
// paths, unclean ones and other methods get a JSON error, never the mux's
// text or redirect.
func TestContainer(t *testing.T) {
	ok := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"route":"`+name+`"}`) }
	}
	srv := httptest.NewServer(jsonmux.Container(ok("init"), ok("run")))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		method, path string
		status       int
		route        string
	}{
		{"POST", "/init", http.StatusOK, "init"},
		{"POST", "/run", http.StatusOK, "run"},
		{"GET", "/run", http.StatusMethodNotAllowed, ""},
		{"GET", "/init", http.StatusMethodNotAllowed, ""},
		{"PUT", "/run", http.StatusMethodNotAllowed, ""},
		{"DELETE", "/init", http.StatusMethodNotAllowed, ""},
		{"HEAD", "/run", http.StatusMethodNotAllowed, ""},
		{"POST", "/nope", http.StatusNotFound, ""},
		{"GET", "/", http.StatusNotFound, ""},
		{"POST", "/run/", http.StatusNotFound, ""},
		{"POST", "//", http.StatusNotFound, ""},
		{"POST", "//run", http.StatusNotFound, ""},
		{"POST", "/x/../run", http.StatusNotFound, ""},
		{"POST", "/./init", http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		if tc.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != http.MethodPost {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
		if tc.method == "HEAD" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("%s %s: body %q is not a JSON object", tc.method, tc.path, b)
		} else if tc.route != "" && m["route"] != tc.route || tc.route == "" && m["error"] == nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, m)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{"": "/", "run": "/run", "/a/../run": "/run", "//run": "/run", "/run/": "/run/", "/./": "/"} {
		if got := jsonmux.CleanPath(in); got != want {
			t.Errorf("CleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}
