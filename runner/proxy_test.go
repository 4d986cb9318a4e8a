package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/none"
)

// shellPolicy is a one-step policy whose job is a shell script under
// engine none.
func shellPolicy(t *testing.T, script string) string {
	t.Helper()
	return fmt.Sprintf(`
name: proxytest
job:
  command: [sh, -c, %q]
  engine: none
  timeout: 30s
  dir: %s
storage:
  url: file://%s
`, script, t.TempDir(), t.TempDir())
}

func noneDeps(store *testStore) runner.Deps {
	return runner.Deps{
		Engine: func(ctx context.Context, name string) (runner.Engine, error) {
			if name != "none" {
				return nil, fmt.Errorf("this test has only engine none, not %q", name)
			}
			return none.New(none.Options{Logger: slog.New(slog.DiscardHandler)})
		},
		OpenStore: store.opener(),
	}
}

// TestProxyProtocol runs OpenWhisk's canonical runtime checks against the
// proxy over HTTP, each in a fresh container.
func TestProxyProtocol(t *testing.T) {
	big := strings.Repeat("x", 1<<20+1000)
	identity := `cat "$WSKX_PARAMS_FILE"`
	envScript := `printf '{"ns":"%s","name":"%s","version":"%s","id":"%s","tx":"%s","deadline":"%s","key":"%s","host":"%s"}\n' ` +
		`"$__OW_NAMESPACE" "$__OW_ACTION_NAME" "$__OW_ACTION_VERSION" "$__OW_ACTIVATION_ID" "$__OW_TRANSACTION_ID" "$__OW_DEADLINE" "$__OW_API_KEY" "$__OW_API_HOST"`
	deadline := time.Now().Add(time.Minute)

	tests := []struct {
		name   string
		script string // "" means /init without code
		value  any
		check  func(t *testing.T, status int, out map[string]any, body map[string]any)
	}{
		{
			name: "identity", script: identity, value: map[string]any{"n": 1.0, "s": "a", "nested": map[string]any{"b": true}},
			check: func(t *testing.T, st int, out, body map[string]any) {
				wantOK(t, st, out)
				if out["n"] != 1.0 || out["s"] != "a" || out["nested"].(map[string]any)["b"] != true {
					t.Errorf("identity: got %v", out)
				}
			},
		},
		{
			name: "unicode", script: identity, value: map[string]any{"delimiter": "❄", "text": "☃ snowman ☃ 雪"},
			check: func(t *testing.T, st int, out, body map[string]any) {
				wantOK(t, st, out)
				if out["delimiter"] != "❄" || out["text"] != "☃ snowman ☃ 雪" {
					t.Errorf("unicode: got %v", out)
				}
			},
		},
		{
			name: "activation context in the environment", script: envScript, value: map[string]any{},
			check: func(t *testing.T, st int, out, body map[string]any) {
				wantOK(t, st, out)
				want := map[string]any{"ns": "guest", "name": "/guest/step", "version": "0.0.1", "id": body["activation_id"],
					// The API key stays out unless the policy asks (job.api_key):
					// a checkpoint image saves the job's environment.
					"tx": "tx1", "deadline": body["deadline"], "key": "", "host": "http://127.0.0.1:3233"}
				for k, v := range want {
					if out[k] != v {
						t.Errorf("%s: got %v, want %v", k, out[k], v)
					}
				}
			},
		},
		{
			name: "payload over 1 MB", script: identity, value: map[string]any{"big": big},
			check: func(t *testing.T, st int, out, body map[string]any) {
				wantOK(t, st, out)
				if out["big"] != big {
					t.Errorf("big payload: got %d bytes back, want %d", len(fmt.Sprint(out["big"])), len(big))
				}
			},
		},
		{
			// A sequence hands an array result on as it is.
			name: "array input arrives boxed", script: identity, value: []any{1.0, "two"},
			check: func(t *testing.T, st int, out, body map[string]any) {
				wantOK(t, st, out)
				if v, _ := out["value"].([]any); len(v) != 2 || v[0] != 1.0 || v[1] != "two" {
					t.Errorf("array input: got %v, want {value: [1, two]}", out)
				}
			},
		},
		{
			name: "invalid response is an error", script: `echo 'this is not JSON'; echo '[1,2]'`, value: map[string]any{},
			check: func(t *testing.T, st int, out, body map[string]any) {
				e, ok := out["error"].(map[string]any)
				if !ok {
					t.Fatalf("got %d %v, want an error", st, out)
				}
				if !strings.Contains(fmt.Sprint(e["message"]), "no JSON object") {
					t.Errorf("error message %q does not say what was wrong", e["message"])
				}
			},
		},
		{
			name: "init without code, then run", script: "", value: map[string]any{},
			check: func(t *testing.T, st int, out, body map[string]any) {
				if st == http.StatusOK || out["error"] == nil {
					t.Errorf("run without a role: got %d %v, want a non-200 error", st, out)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t, noneDeps(newTestStore(t)), func(k string) string {
				if k == "__OW_API_HOST" {
					return "http://127.0.0.1:3233"
				}
				return ""
			})
			if tc.script == "" {
				st, out := c.post(t, "/init", map[string]any{"value": map[string]any{}})
				if st != http.StatusOK {
					t.Fatalf("/init without code: %d %v", st, out)
				}
			} else {
				c.initStep(t, shellPolicy(t, tc.script))
			}
			body := runBody(tc.value, deadline)
			st, out := c.post(t, "/run", body)
			tc.check(t, st, out, body)
			for name, s := range map[string]string{"stdout": c.stdout.String(), "stderr": c.stderr.String()} {
				if n := countLines(s, runner.Sentinel); n != 1 {
					t.Errorf("%s has %d sentinel lines after one activation, want 1", name, n)
				}
			}
		})
	}
}

func wantOK(t *testing.T, st int, out map[string]any) {
	t.Helper()
	if st != http.StatusOK {
		t.Fatalf("status %d: %v", st, out)
	}
	rep, ok := out[hop.StepKey].(map[string]any)
	if !ok {
		t.Fatalf("no step report in %v", out)
	}
	if rep["status"] != string(hop.Done) {
		t.Fatalf("report %v, want done", rep)
	}
}

// TestProxyInit covers /init's refusals.
func TestProxyInit(t *testing.T) {
	code, _ := json.Marshal(composer.Code{Role: composer.RoleStep, Policy: yamlToJSON(t, shellPolicy(t, "true"))})
	tests := []struct {
		name   string
		bodies []map[string]any
		want   []int
	}{
		{"second init refused", []map[string]any{{"code": string(code)}, {"code": string(code)}}, []int{200, 403}},
		{"second init after no code refused", []map[string]any{{}, {"code": string(code)}}, []int{200, 403}},
		{"not wskx code", []map[string]any{{"code": `{"main": "x"}`}}, []int{502}},
		{"binary code is base64", []map[string]any{{"code": "!!!", "binary": true}}, []int{502}},
		{"bad policy", []map[string]any{{"code": `{"wskx":"step","policy":{"job":{"engine":"warp"}}}`}}, []int{502}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t, noneDeps(newTestStore(t)), nil)
			for i, b := range tc.bodies {
				st, out := c.post(t, "/init", map[string]any{"value": b})
				if st != tc.want[i] {
					t.Errorf("init %d: got %d %v, want %d", i+1, st, out, tc.want[i])
				}
				if st != 200 && out["error"] == nil {
					t.Errorf("init %d: refusal without an error field: %v", i+1, out)
				}
				// As BasicActionRunnerTests expects of a second /init: the
				// message in the answer and in the container's output.
				if st == http.StatusForbidden {
					const msg = "Cannot initialize the action more than once."
					if out["error"] != msg || !strings.Contains(c.stdout.String()+c.stderr.String(), msg) {
						t.Errorf("init %d: answer %v, output %q; want %q in both", i+1, out, c.stdout.String()+c.stderr.String(), msg)
					}
				}
			}
		})
	}
}

// TestProxyDeadlineAsNumber sends the deadline as a JSON number: the step
// must read it and stop a job that cannot checkpoint before it.
func TestProxyDeadlineAsNumber(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := newContainer(t, noneDeps(newTestStore(t)), nil)
	c.initStep(t, shellPolicy(t, fmt.Sprintf("echo $$ > %s; exec sleep 30", pidFile)))
	body := runBody(map[string]any{}, time.Now())
	body["deadline"] = time.Now().Add(1500 * time.Millisecond).UnixMilli()
	body["value"] = map[string]any{hop.StepKey: hop.Request{Job: "jdeadline", Hop: 1, Attempt: 1}}
	st, out := c.post(t, "/run", body)
	if st != http.StatusOK {
		t.Fatalf("status %d: %v", st, out)
	}
	rep := report(t, out)
	if rep.Status != hop.Failed || rep.Retryable || !strings.Contains(rep.Cause, "engine none cannot checkpoint") {
		t.Errorf("got %+v, want a non-retryable failure naming engine none", rep)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("the job (pid %d) still runs after the hop answered", pid)
	}
}

// TestProxyOneRunAtATime sends two /run at once; their jobs must not overlap.
func TestProxyOneRunAtATime(t *testing.T) {
	marks := filepath.Join(t.TempDir(), "marks")
	c := newContainer(t, noneDeps(newTestStore(t)), nil)
	c.initStep(t, shellPolicy(t, fmt.Sprintf(`echo start >> %s; sleep 0.3; echo end >> %s; echo '{}'`, marks, marks)))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			st, out := c.post(t, "/run", runBody(map[string]any{}, time.Now().Add(time.Minute)))
			if st != http.StatusOK {
				t.Errorf("status %d: %v", st, out)
			}
		})
	}
	wg.Wait()
	b, err := os.ReadFile(marks)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "start end start end" {
		t.Errorf("jobs overlapped: %v", got)
	}
	if n := countLines(c.stdout.String(), runner.Sentinel); n != 2 {
		t.Errorf("%d sentinels on stdout after two activations", n)
	}
}

func report(t *testing.T, out map[string]any) hop.Report {
	t.Helper()
	raw, ok := out[hop.StepKey]
	if !ok {
		t.Fatalf("no %s in %v", hop.StepKey, out)
	}
	b, _ := json.Marshal(raw)
	var r hop.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestProxyAnswersJSON: outside the protocol the proxy answers as
// jsonmux.Container does (tested there in full).
func TestProxyAnswersJSON(t *testing.T) {
	p := runner.NewProxy(runner.ProxyConfig{NewRole: runner.NewRoleFactory(noneDeps(newTestStore(t)))})
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/x/../run", strings.NewReader("{}")))
	var m map[string]any
	if rec.Code != http.StatusNotFound || json.Unmarshal(rec.Body.Bytes(), &m) != nil || m["error"] == nil {
		t.Errorf("POST /x/../run: %d %q, want 404 with a JSON error", rec.Code, rec.Body)
	}
}

// fuzzPost sends body to path on h and checks what every answer of the
// proxy must be: a JSON object, with an "error" string unless the status
// is 200. It returns the status and the object.
func fuzzPost(t *testing.T, h http.Handler, path string, body []byte) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out == nil {
		t.Fatalf("%s %q: %d with %q, not a JSON object", path, body, rec.Code, rec.Body.Bytes())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %q: content type %q", path, body, ct)
	}
	if rec.Code != http.StatusOK {
		if e, _ := out["error"].(string); e == "" {
			t.Errorf("%s %q: %d without an error: %v", path, body, rec.Code, out)
		}
	}
	return rec.Code, out
}

// FuzzProxyInit sends any /init body to a fresh proxy with the real role
// factory (parsing code and policies starts nothing), then a second /init.
// Invariants: no panic, JSON answers, 200 or a 4xx/502 refusal, and a
// second /init refused once one succeeded.
func FuzzProxyInit(f *testing.F) {
	f.Add([]byte(`{"value":{}}`))
	store := newTestStore(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		p := runner.NewProxy(runner.ProxyConfig{NewRole: runner.NewRoleFactory(noneDeps(store))})
		h := p.Handler()
		st, out := fuzzPost(t, h, "/init", body)
		switch {
		case st == http.StatusOK:
			if out["ok"] != true {
				t.Errorf("init %q: 200 with %v", body, out)
			}
			if again, _ := fuzzPost(t, h, "/init", body); again != http.StatusForbidden {
				t.Errorf("second init %q: %d, want 403", body, again)
			}
		case st == http.StatusBadGateway, st >= 400 && st < 500:
		default:
			t.Errorf("init %q: status %d", body, st)
		}
	})
}

// echoRole answers every activation with what it was given.
type echoRole struct{}

func (echoRole) Run(_ context.Context, act runner.Activation, params map[string]any) (map[string]any, error) {
	return map[string]any{"params": params, "id": act.ID, "deadline": act.Deadline.UnixMilli(), "env": act.Env}, nil
}

// FuzzProxyRun sends any /run body to a proxy whose role echoes, so that
// the proxy's own reading of /run is what runs. Invariants: no panic, JSON
// answers, 200 (with the role's answer) or a 4xx refusal.
func FuzzProxyRun(f *testing.F) {
	f.Add([]byte(`{"value":{"n":1}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p := runner.NewProxy(runner.ProxyConfig{NewRole: func(context.Context, []byte, runner.InitRequest) (runner.Role, error) {
			return echoRole{}, nil
		}})
		h := p.Handler()
		if st, out := fuzzPost(t, h, "/init", []byte(`{"value":{"code":"echo","env":{"K":"v"}}}`)); st != http.StatusOK {
			t.Fatalf("init: %d %v", st, out)
		}
		st, out := fuzzPost(t, h, "/run", body)
		switch {
		case st == http.StatusOK:
			if _, ok := out["params"].(map[string]any); !ok {
				t.Errorf("run %q: 200 without the role's answer: %v", body, out)
			}
		case st >= 400 && st < 500:
		default:
			t.Errorf("run %q: status %d: %v", body, st, out)
		}
	})
}
