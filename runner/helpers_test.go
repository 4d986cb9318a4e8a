package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/runner"
)

// syncBuffer is a log stream tests read while the proxy writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// container is a proxy under test, served over real HTTP on loopback.
type container struct {
	url            string
	stdout, stderr *syncBuffer
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newContainer starts a proxy whose roles use deps (Stdout and Stderr are
// set here).
func newContainer(t *testing.T, deps runner.Deps, getenv func(string) string) *container {
	t.Helper()
	c := &container{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	deps.Stdout, deps.Stderr, deps.Logger = c.stdout, c.stderr, testLogger(t)
	p := runner.NewProxy(runner.ProxyConfig{
		NewRole: runner.NewRoleFactory(deps), Stdout: c.stdout, Stderr: c.stderr, Getenv: getenv, Logger: deps.Logger,
	})
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// post sends a JSON body and returns the status and the decoded answer.
func (c *container) post(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(c.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s: answer is not a JSON object: %v: %.200q", path, err, raw)
	}
	return resp.StatusCode, out
}

// testSecret is the deployment secret of the tests' actions.
var testSecret = hop.NewSecret()

func testSecretBytes(t *testing.T) []byte {
	t.Helper()
	b, err := hop.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// initStep sends /init with a step role for policy (YAML or JSON).
func (c *container) initStep(t *testing.T, policy string) {
	t.Helper()
	c.initCode(t, composer.Code{Role: composer.RoleStep, Policy: yamlToJSON(t, policy), Conductor: "/guest/c"})
}

// initCode sends /init with code and the deployment secret as OpenWhisk
// sends an init parameter.
func (c *container) initCode(t *testing.T, code composer.Code) {
	t.Helper()
	b, err := json.Marshal(code)
	if err != nil {
		t.Fatal(err)
	}
	st, out := c.post(t, "/init", map[string]any{"value": map[string]any{"name": "step", "main": "main", "code": string(b),
		"env": map[string]string{hop.SecretEnv: testSecret}}})
	if st != http.StatusOK {
		t.Fatalf("/init: %d %v", st, out)
	}
}

// yamlToJSON turns a test's YAML policy into the JSON document that
// composer.Code carries.
func yamlToJSON(t *testing.T, policy string) json.RawMessage {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatalf("test policy: %v", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runBody is a /run body as the invoker sends it.
func runBody(value any, deadline time.Time) map[string]any {
	return map[string]any{
		"value": value, "namespace": "guest", "action_name": "/guest/step", "action_version": "0.0.1",
		"activation_id": fmt.Sprintf("a%d", time.Now().UnixNano()), "transaction_id": "tx1",
		"deadline": fmt.Sprint(deadline.UnixMilli()), "api_key": "u:k",
	}
}

func countLines(s, line string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if l == line {
			n++
		}
	}
	return n
}

var _ = context.Background
