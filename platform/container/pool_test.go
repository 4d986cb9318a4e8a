package container

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/internal/proctest"
	"github.com/wskx/wskx/whisk"
)

const echoExec = `#!/bin/sh
echo "log line one"
echo "to stderr" >&2
stdin=$(cat)
printf '{"args":%s,"stdin":%s,"ns":"%s","act":"%s","host":"%s"}\n' "$1" "$stdin" "$__OW_NAMESPACE" "$__OW_ACTIVATION_ID" "$__OW_API_HOST"
`

func TestNative(t *testing.T) {
	p := newPool(t, nil)
	zipped := zipB64(t, map[string]string{"exec*": echoExec})
	tests := []struct {
		name       string
		exec       whisk.Exec
		wantStatus int
		wantError  string            // exact error result, when not success
		wantFields map[string]string // result fields, when success
		wantLogs   []string          // "stream: text" suffixes
	}{
		{name: "zip via dockerskeleton image", exec: whisk.Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton", Code: zipped, Binary: true},
			wantFields: map[string]string{"ns": "guest", "host": "http://127.0.0.1:1"},
			wantLogs:   []string{"stdout: log line one", "stderr: to stderr"}},
		{name: "zip as native kind", exec: whisk.Exec{Kind: "native", Code: zipped, Binary: true},
			wantFields: map[string]string{"ns": "guest"}},
		{name: "text code", exec: whisk.Exec{Kind: "native", Code: "#!/bin/sh\necho hi\necho '{\"text\":\"yes\"}'\n"},
			wantFields: map[string]string{"text": "yes"}, wantLogs: []string{"stdout: hi"}},
		{name: "array result", exec: whisk.Exec{Kind: "native", Code: "#!/bin/sh\necho '[1,2]'\n"}},
		{name: "application error keeps only error", exec: whisk.Exec{Kind: "native", Code: "#!/bin/sh\necho '{\"error\":\"boom\",\"x\":1}'\n"},
			wantStatus: StatusAppError, wantError: "boom"},
		{name: "last line not JSON", exec: whisk.Exec{Kind: "native", Code: "#!/bin/sh\necho '{\"a\":1}'\necho done\n"},
			wantStatus: StatusDevError, wantError: "The action did not return a dictionary or array.",
			wantLogs: []string{`stdout: {"a":1}`, "stdout: done"}},
		{name: "zip without exec", exec: whisk.Exec{Kind: "native", Code: zipB64(t, map[string]string{"other": "x"}), Binary: true},
			wantStatus: StatusDevError, wantError: "The action failed to generate or locate a binary. See logs for details."},
		{name: "exec not executable", exec: whisk.Exec{Kind: "native", Code: zipB64(t, map[string]string{"exec": "#!/bin/sh\n"}), Binary: true},
			wantStatus: StatusDevError, wantError: "The action failed to generate or locate a binary. See logs for details."},
		{name: "no code is a stub", exec: whisk.Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton:latest"},
			wantStatus: StatusAppError, wantError: "The action has no executable: create it with a zip holding exec."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spec(tc.exec, 20000, 256)
			out := run(t, p, s, map[string]any{"n": 7})
			if out.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; result %s; logs %q", out.StatusCode, tc.wantStatus, out.Result, out.Logs)
			}
			if tc.wantStatus != StatusSuccess {
				if got := errorText(t, out); got != tc.wantError {
					t.Errorf("error %q, want %q", got, tc.wantError)
				}
				if m := resultMap(t, out); len(m) != 1 {
					t.Errorf("error result %s has fields besides error", out.Result)
				}
			} else if len(tc.wantFields) > 0 {
				m := resultMap(t, out)
				for k, v := range tc.wantFields {
					if m[k] != v {
						t.Errorf("result %s: %s = %v, want %q", out.Result, k, m[k], v)
					}
				}
				if args, ok := m["args"].(map[string]any); ok {
					if args["n"] != 7.0 {
						t.Errorf("argv[1] %v lacks n=7", args)
					}
					if stdin, _ := m["stdin"].(map[string]any); stdin["n"] != 7.0 {
						t.Errorf("stdin %v lacks n=7", m["stdin"])
					}
				}
			}
			for _, want := range tc.wantLogs {
				stream, text, _ := strings.Cut(want, ": ")
				if !hasLog(out.Logs, stream, text) {
					t.Errorf("logs %q lack %q", out.Logs, want)
				}
			}
			for _, l := range out.Logs {
				if strings.Contains(l, Sentinel) {
					t.Errorf("sentinel left in logs: %q", l)
				}
				if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr): `).MatchString(l) {
					t.Errorf("log line %q not in OpenWhisk's format", l)
				}
			}
			if tc.wantStatus == StatusDevError && !hasLog(out.Logs, "stderr", msgLogDevError) {
				t.Errorf("developer error logs %q lack the notice", out.Logs)
			}
			if out.InitTime <= 0 {
				t.Errorf("cold start without InitTime")
			}
		})
	}
}

func TestBlackbox(t *testing.T) {
	tests := []struct {
		name       string
		image      string
		value      map[string]any
		wantStatus int
		wantError  string // exact, or prefix when ending in "…"
		wantResult string // exact JSON on success
		wantLogs   []string
	}{
		{name: "echo with any tag", image: "test/bbox:latest", value: map[string]any{"a": 1}, wantResult: `{"a":1}`},
		{name: "port placeholder", image: "test/bbox-placeholder", value: map[string]any{"b": "x"}, wantResult: `{"b":"x"}`},
		{name: "logs without sentinel", image: "test/bbox", value: map[string]any{"log": "hello"}, wantResult: `{"log":"hello"}`,
			wantLogs: []string{"stdout: hello", "stderr: err: hello"}},
		{name: "logs with sentinel", image: "test/bbox-sentinel:v1", value: map[string]any{"log": "hey"}, wantResult: `{"log":"hey"}`,
			wantLogs: []string{"stdout: hey", "stderr: err: hey"}},
		{name: "unknown image", image: "no/such:1", wantStatus: StatusDevError, wantError: "Failed to pull container image 'no/such:1'."},
		{name: "exact tag only", image: "test/bbox-sentinel:v2", wantStatus: StatusDevError, wantError: "Failed to pull container image 'test/bbox-sentinel:v2'."},
		{name: "not JSON", image: "test/bbox", value: map[string]any{"raw": "hello"}, wantStatus: StatusDevError,
			wantError: "The action did not produce a valid JSON response: hello"},
		{name: "scalar", image: "test/bbox", value: map[string]any{"raw": "42"}, wantStatus: StatusDevError,
			wantError: "The action did not produce a valid JSON response: 42"},
		{name: "empty body", image: "test/bbox", value: map[string]any{"raw": ""}, wantStatus: StatusDevError,
			wantError: "The action did not produce a valid JSON response."},
		{name: "array", image: "test/bbox", value: map[string]any{"raw": "[1,2]"}, wantResult: `[1,2]`},
		{name: "non-200 with error", image: "test/bbox", value: map[string]any{"raw": `{"error":"bad","x":1}`, "status": 502},
			wantStatus: StatusDevError, wantError: "bad"},
		{name: "non-200 without error", image: "test/bbox", value: map[string]any{"raw": `{"x":1}`, "status": 500},
			wantStatus: StatusDevError, wantError: `The action did not produce a valid JSON response: {"x":1}`},
		{name: "application error", image: "test/bbox", value: map[string]any{"raw": `{"error":{"code":7},"x":1}`},
			wantStatus: StatusAppError, wantResult: `{"error":{"code":7}}`},
		{name: "connection lost", image: "test/bbox", value: map[string]any{"exit": true}, wantStatus: StatusDevError,
			wantError: "The action did not produce a valid response and exited unexpectedly."},
		{name: "result too large", image: "test/bbox", value: map[string]any{"big": 1100000}, wantStatus: StatusAppError,
			wantError: "The action produced a response that exceeded the allowed length: 1100010 > 1048576 bytes. The truncated response was: {\"big\":\"xxx…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, nil)
			s := spec(whisk.Exec{Kind: "blackbox", Image: tc.image}, 20000, 256)
			out := run(t, p, s, tc.value)
			if out.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; result %.300s", out.StatusCode, tc.wantStatus, out.Result)
			}
			if tc.wantResult != "" && string(out.Result) != tc.wantResult {
				t.Errorf("result %s, want %s", out.Result, tc.wantResult)
			}
			if tc.wantError != "" {
				got := errorText(t, out)
				if prefix, ok := strings.CutSuffix(tc.wantError, "…"); ok {
					if !strings.HasPrefix(got, prefix) {
						t.Errorf("error %.200q, want prefix %q", got, prefix)
					}
				} else if got != tc.wantError {
					t.Errorf("error %q, want %q", got, tc.wantError)
				}
			}
			for _, want := range tc.wantLogs {
				stream, text, _ := strings.Cut(want, ": ")
				if !hasLog(out.Logs, stream, text) {
					t.Errorf("logs %q lack %q", out.Logs, want)
				}
			}
			wantKept := tc.wantStatus != StatusDevError
			if st := p.Stats(); (st.Idle == 1) != wantKept {
				t.Errorf("after status %d: %+v containers idle, want kept=%v", out.StatusCode, st, wantKept)
			}
		})
	}
}

func TestBlackboxEnvironment(t *testing.T) {
	t.Setenv("WSKX_TEST_PRIVATE", "must not leak")
	p := newPool(t, func(c *Config) { c.Env = map[string]string{"WSKX_EXTRA": "yes"} })
	s := spec(whisk.Exec{Kind: "blackbox", Image: "test/bbox"}, 20000, 256)
	in := input(t, map[string]any{"env": true}, 20*time.Second)
	in.APIKey = "uuid:key"
	out, err := p.Run(context.Background(), s, in)
	if err != nil || out.StatusCode != 0 {
		t.Fatalf("Run: %v %+v", err, out)
	}
	var got struct {
		Env []string       `json:"env"`
		Run map[string]any `json:"run"`
	}
	if err := json.Unmarshal(out.Result, &got); err != nil {
		t.Fatal(err)
	}
	env := strings.Join(got.Env, "\n")
	for _, want := range []string{"__OW_API_HOST=http://127.0.0.1:1", "WSKX_EXTRA=yes", "PATH="} {
		if !strings.Contains(env, want) {
			t.Errorf("container env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "WSKX_TEST_PRIVATE") {
		t.Errorf("container env leaks the pool's environment:\n%s", env)
	}
	want := map[string]string{"namespace": "guest", "action_name": s.Action, "action_version": "0.0.1",
		"activation_id": in.ActivationID, "transaction_id": "tx1", "api_key": "uuid:key",
		"deadline": strconv.FormatInt(in.Deadline.UnixMilli(), 10)}
	for k, v := range want {
		if got.Run[k] != v {
			t.Errorf("/run field %s = %q, want %q", k, got.Run[k], v)
		}
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	p := newPool(t, nil)
	dir := actionDir(t)
	code := `#!/bin/sh
sleep 60 &
echo "pids $$ $!" > ` + filepath.Join(dir, "pids") + `
wait
`
	s := spec(whisk.Exec{Kind: "native", Code: code}, 1000, 256)
	out := run(t, p, s, map[string]any{})
	if out.StatusCode != StatusDevError || !out.TimedOut {
		t.Fatalf("status %d timedOut %v, want developer error by timeout; %s", out.StatusCode, out.TimedOut, out.Result)
	}
	if got, want := errorText(t, out), "The action exceeded its time limits of 1000 milliseconds."; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b))
	if len(fields) != 3 {
		t.Fatalf("pid file %q", b)
	}
	for _, f := range fields[1:] {
		pid, _ := strconv.Atoi(f)
		if !proctest.Gone(pid) {
			t.Errorf("process %d outlived the timeout", pid)
		}
	}
	if st := p.Stats(); st.Idle+st.Busy != 0 {
		t.Errorf("timed-out container kept: %+v", st)
	}
}

func TestInitTimeout(t *testing.T) {
	p := newPool(t, nil)
	code := "const end = Date.now() + 20000; while (Date.now() < end) {}\nfunction main() { return {} }"
	s := spec(whisk.Exec{Kind: "nodejs:20", Code: code}, 500, 256)
	out := run(t, p, s, map[string]any{})
	if out.StatusCode != StatusDevError || !out.TimedOut {
		t.Fatalf("status %d timedOut %v; %s", out.StatusCode, out.TimedOut, out.Result)
	}
	if got, want := errorText(t, out), "The action exceeded its time limits of 500 milliseconds during initialization."; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	if out.InitTime <= 0 {
		t.Error("InitTime not set for a cold start")
	}
}
