package platform

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/whisk"
)

// FuzzAPIRequest sends one request of any method, target, headers and
// body to the API handler of a platform without a container runner, with
// an action, a sequence and a conductor to find. Invariants: no panic;
// every answer is JSON with a status that is 2xx or 4xx, and a 4xx is
// OpenWhisk's error object; a 5xx only for an activation that could not
// run (a whisk internal error, with its activation id in the header).
func FuzzAPIRequest(f *testing.F) {
	f.Add("GET", "/api/v1/namespaces/_/actions", "", []byte(nil), uint8(1))
	f.Fuzz(func(t *testing.T, method, target, header string, body []byte, auth uint8) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req, err := http.NewRequest(method, "http://platform.test/", bytes.NewReader(body))
		if err != nil {
			return // not a method net/http would send or serve
		}
		req.URL, req.RequestURI, req.Host = u, target, "platform.test"
		for _, line := range strings.Split(header, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				req.Header.Add(k, strings.TrimSpace(v))
			}
		}
		switch auth % 3 {
		case 1:
			id, secret, _ := strings.Cut(testKey, ":")
			req.SetBasicAuth(id, secret)
		case 2:
			req.SetBasicAuth(testKeyID, "wrong")
		}

		p, err := New(Config{Logger: quietLogger(), Users: []User{{Namespace: "guest", Key: testKey}}, BlockingWait: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		limits := whisk.Limits{Timeout: defaultTimeout, Memory: defaultMemory, Logs: defaultLogs, Concurrency: 1}
		for _, a := range []*whisk.Action{
			{Name: "echo", Exec: &whisk.Exec{Kind: "blackbox", Image: "wskx/testaction"}},
			{Namespace: "guest/pkg", Name: "seq", Exec: &whisk.Exec{Kind: "sequence", Components: []string{"/guest/echo", "/guest/echo"}}},
			{Name: "cond", Exec: &whisk.Exec{Kind: "blackbox", Image: "wskx/testaction"},
				Annotations: whisk.KeyValues{{Key: "conductor", Value: true}}},
		} {
			a.Namespace, a.Version, a.Limits = cmp.Or(a.Namespace, "guest"), "0.0.1", &limits
			if err := p.store.putAction(a); err != nil {
				t.Fatal(err)
			}
		}

		if err := p.store.putPackage(&whisk.Package{Namespace: "guest", Name: "pkg", Version: "0.0.1"}); err != nil {
			t.Fatal(err)
		}

		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, req)

		status, out := rec.Code, rec.Body.Bytes()
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %q: %d with content type %q", method, target, status, ct)
		}
		if !json.Valid(out) || len(bytes.TrimSpace(out)) == 0 {
			t.Fatalf("%s %q: %d with a body that is not JSON: %q", method, target, status, out)
		}
		invoke := method == http.MethodPost && strings.Contains(u.Path, "/actions/")
		switch {
		case status >= 200 && status < 300:
		case status >= 400 && status < 500:
			var e struct{ Error, Code string }
			if err := json.Unmarshal(out, &e); err != nil || e.Error == "" || len(e.Code) != 32 {
				t.Errorf("%s %q: %d with %s, not an OpenWhisk error", method, target, status, out)
			}
		case status == http.StatusInternalServerError && invoke && rec.Header().Get(whisk.ActivationIDHeader) != "":
		default:
			t.Errorf("%s %q: status %d: %s", method, target, status, out)
		}
	})
}
