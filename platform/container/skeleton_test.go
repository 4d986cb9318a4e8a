package container

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/whisk"
)

func TestLastLineWriter(t *testing.T) {
	tests := []struct {
		name     string
		writes   []string
		wantLogs string
		wantLast string
	}{
		{name: "result after logs", writes: []string{"a\nb\n{\"x\":1}\n"}, wantLogs: "a\nb\n", wantLast: `{"x":1}`},
		{name: "unterminated result", writes: []string{"a\n", "{\"x\":", "1}"}, wantLogs: "a\n", wantLast: `{"x":1}`},
		{name: "split lines", writes: []string{"lo", "g\n{}", "\n"}, wantLogs: "log\n", wantLast: `{}`},
		{name: "nothing", writes: nil, wantLogs: "", wantLast: ""},
		{name: "trailing blank tail", writes: []string{"{}\n  "}, wantLogs: "", wantLast: `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w := &lastLineWriter{out: &out}
			for _, s := range tc.writes {
				w.Write([]byte(s))
			}
			last := w.last()
			if out.String() != tc.wantLogs || last != tc.wantLast {
				t.Errorf("logs %q last %q, want %q and %q", out.String(), last, tc.wantLogs, tc.wantLast)
			}
		})
	}
}

func TestSkeletonProtocol(t *testing.T) {
	var stdout, stderr bytes.Buffer
	s := NewSkeleton(SkeletonConfig{Dir: t.TempDir(), Stdout: &stdout, Stderr: &stderr, Environ: []string{"PATH=/usr/bin:/bin"}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	steps := []struct {
		path, body string
		wantStatus int
		wantBody   string
	}{
		{"/run", `{"value":{}}`, 502, `{"error":"The action failed to locate a binary. See logs for details."}`},
		{"/init", `{"value":{"code":"#!/bin/sh\necho \"$__OW_ACTIVATION_ID $__OW_DEADLINE\" >&2\necho \"{\\\"v\\\":$1,\\\"i\\\":\\\"$INIT_P\\\"}\"\n","env":{"INIT_P":"ip"}}}`, 200, `{"ok":true}`},
		{"/init", `{"value":{"code":"x"}}`, 403, `{"error":"Cannot initialize the action more than once."}`},
		{"/run", `{"value":{"a":[1]},"activation_id":"id1","deadline":"123"}`, 200, `{"v":{"a":[1]},"i":"ip"}`},
		{"/run", `{"value":"scalar"}`, 404, `{"error":"The action did not receive a dictionary or array as an argument."}`},
	}
	for _, st := range steps {
		code, body := post(st.path, st.body)
		if code != st.wantStatus || body != st.wantBody {
			t.Errorf("%s %s: %d %s, want %d %s", st.path, st.body, code, body, st.wantStatus, st.wantBody)
		}
	}
	if !strings.Contains(stderr.String(), "id1 123\n") {
		t.Errorf("stderr %q lacks the activation env", stderr.String())
	}
	if n := strings.Count(stdout.String(), Sentinel+"\n"); n != 3 {
		t.Errorf("%d sentinels on stdout after three runs: %q", n, stdout.String())
	}
}

func TestLogLimit(t *testing.T) {
	p := newPool(t, nil)
	code := "#!/bin/sh\nhead -c 700000 /dev/zero | tr '\\0' x; echo\nhead -c 700000 /dev/zero | tr '\\0' y; echo\necho '{}'\n"
	s := spec(whisk.Exec{Kind: "native", Code: code}, 20000, 256)
	s.Limits.Logs = 1
	out, err := p.Run(context.Background(), s, input(t, map[string]any{}, 20e9))
	if err != nil || out.StatusCode != StatusSuccess {
		t.Fatalf("run: %v %+v", err, out.StatusCode)
	}
	if len(out.Logs) != 2 || !strings.HasSuffix(out.Logs[1], "stderr: Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes.") {
		t.Errorf("%d log lines, last %.200q", len(out.Logs), out.Logs[len(out.Logs)-1])
	}
}

// BenchmarkRun measures one activation in a warm container and with a
// cold start (process start and /init included).
func BenchmarkRun(b *testing.B) {
	for _, bc := range []struct {
		name string
		exec whisk.Exec
	}{
		{"native", whisk.Exec{Kind: "native", Code: "#!/bin/sh\necho '{}'\n"}},
		{"nodejs", whisk.Exec{Kind: "nodejs:20", Code: "function main(p) { return p }"}},
		{"blackbox", whisk.Exec{Kind: "blackbox", Image: "test/bbox-sentinel:v1"}},
	} {
		for _, mode := range []string{"warm", "cold"} {
			b.Run(bc.name+"/"+mode, func(b *testing.B) {
				cfg := Config{Wskx: testBinary(), CacheDir: cacheDir,
					Images: map[string][]string{"test/bbox-sentinel:v1": {blackboxBin, "--sentinel"}}}
				if mode == "cold" {
					cfg.IdleTimeout = time.Millisecond // reap the containers of earlier iterations
				}
				p, err := NewPool(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				s := spec(bc.exec, 20000, 256)
				for i := 0; i < b.N; i++ {
					if mode == "cold" {
						s.Version = "cold-" + strconv.Itoa(i) // a new version never finds a warm container
					}
					out, err := p.Run(context.Background(), s, RunInput{Value: []byte(`{"i":1}`), ActivationID: "a"})
					if err != nil || out.StatusCode != 0 {
						b.Fatalf("%v %d %s", err, out.StatusCode, out.Result)
					}
				}
			})
		}
	}
}

func TestInitEnv(t *testing.T) {
	p := newPool(t, nil)
	for _, ex := range []whisk.Exec{
		{Kind: "native", Code: "#!/bin/sh\nprintf '{\"p\":\"%s\"}\\n' \"$MY_INIT\"\n"},
		{Kind: "nodejs:20", Code: "function main() { return {p: process.env.MY_INIT} }"},
	} {
		s := spec(ex, 20000, 256)
		s.InitEnv = map[string]string{"MY_INIT": "from init"}
		if out := run(t, p, s, map[string]any{}); string(out.Result) != `{"p":"from init"}` {
			t.Errorf("%s: result %s, want the init parameter", ex.Kind, out.Result)
		}
	}
}

// TestSkeletonAnswersJSON: outside the protocol the skeleton answers as
// jsonmux.Container does (tested there in full).
func TestSkeletonAnswersJSON(t *testing.T) {
	s := NewSkeleton(SkeletonConfig{Dir: t.TempDir(), Stdout: io.Discard, Stderr: io.Discard})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/run", nil))
	var m map[string]any
	if rec.Code != http.StatusMethodNotAllowed || json.Unmarshal(rec.Body.Bytes(), &m) != nil || m["error"] == nil {
		t.Errorf("GET /run: %d %q, want 405 with a JSON error", rec.Code, rec.Body)
	}
}
