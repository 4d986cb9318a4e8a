package container

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wskx/wskx/internal/npmtest"
	"github.com/wskx/wskx/internal/proctest"
	"github.com/wskx/wskx/whisk"
)

func needNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
}

func TestNodejs(t *testing.T) {
	needNode(t)
	p := newPool(t, nil)
	tests := []struct {
		name       string
		exec       whisk.Exec
		value      map[string]any
		wantStatus int
		wantResult string // exact JSON
		wantError  string // prefix of the error text
		wantLog    string // "stream: text"
	}{
		{name: "identity", exec: whisk.Exec{Kind: "nodejs:20", Code: "function main(p) { return p }"},
			value: map[string]any{"a": "ü", "n": 1}, wantResult: `{"a":"ü","n":1}`},
		{name: "promise", exec: whisk.Exec{Kind: "nodejs:default", Code: "function main(p) { return new Promise(r => setTimeout(() => r({n: p.n + 1}), 20)) }"},
			value: map[string]any{"n": 1}, wantResult: `{"n":2}`},
		{name: "named main", exec: whisk.Exec{Kind: "nodejs:20", Main: "hello", Code: "function hello(p) { console.log('hi', p.x); return {x: p.x} }"},
			value: map[string]any{"x": 5}, wantResult: `{"x":5}`, wantLog: "stdout: hi 5"},
		{name: "exports main", exec: whisk.Exec{Kind: "nodejs:20", Code: "exports.main = p => ({e: true})"}, wantResult: `{"e":true}`},
		{name: "undefined result", exec: whisk.Exec{Kind: "nodejs:20", Code: "function main() {}"}, wantResult: `{}`},
		{name: "activation env", exec: whisk.Exec{Kind: "nodejs:20", Code: "function main() { return {ns: process.env.__OW_NAMESPACE, host: process.env.__OW_API_HOST} }"},
			wantResult: `{"ns":"guest","host":"http://127.0.0.1:1"}`},
		{name: "error result", exec: whisk.Exec{Kind: "nodejs:20", Code: "function main() { return {error: 'bad', other: 1} }"},
			wantStatus: StatusAppError, wantResult: `{"error":"bad"}`},
		{name: "rejected promise", exec: whisk.Exec{Kind: "nodejs:20", Code: "function main() { return Promise.reject({reason: 'no'}) }"},
			wantStatus: StatusAppError, wantResult: `{"error":{"reason":"no"}}`},
		{name: "thrown", exec: whisk.Exec{Kind: "nodejs:20", Code: "function main() { throw new Error('kaput') }"},
			wantStatus: StatusDevError, wantError: "An error has occurred: Error: kaput"},
		{name: "scalar result", exec: whisk.Exec{Kind: "nodejs:20", Code: "function main() { return 3 }"},
			wantStatus: StatusDevError, wantError: "The action did not return a dictionary."},
		{name: "syntax error", exec: whisk.Exec{Kind: "nodejs:20", Code: "function main( {"},
			wantStatus: StatusDevError, wantError: "Initialization has failed due to: SyntaxError"},
		{name: "main missing", exec: whisk.Exec{Kind: "nodejs:20", Code: "function other() {}"},
			wantStatus: StatusDevError, wantError: "Initialization has failed due to: Action entrypoint 'main' is not a function."},
		{name: "zip with package.json", exec: whisk.Exec{Kind: "nodejs:20", Binary: true, Code: zipB64(t, map[string]string{
			"package.json":  `{"main": "lib/app.js"}`,
			"lib/app.js":    "const h = require('./helper'); exports.main = p => ({z: h(p.n)})",
			"lib/helper.js": "module.exports = n => n * 10",
		})}, value: map[string]any{"n": 4}, wantResult: `{"z":40}`},
		{name: "zip without entry point", exec: whisk.Exec{Kind: "nodejs:20", Binary: true, Code: zipB64(t, map[string]string{"x.js": ""})},
			wantStatus: StatusDevError, wantError: "Initialization has failed due to: Zipped actions must contain either package.json or index.js at the root."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spec(tc.exec, 20000, 256)
			out := run(t, p, s, tc.value)
			if out.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; result %s; logs %q", out.StatusCode, tc.wantStatus, out.Result, out.Logs)
			}
			if tc.wantResult != "" && string(out.Result) != tc.wantResult {
				t.Errorf("result %s, want %s", out.Result, tc.wantResult)
			}
			if tc.wantError != "" && !strings.HasPrefix(errorText(t, out), tc.wantError) {
				t.Errorf("error %q, want prefix %q", errorText(t, out), tc.wantError)
			}
			if tc.wantLog != "" {
				stream, text, _ := strings.Cut(tc.wantLog, ": ")
				if !hasLog(out.Logs, stream, text) {
					t.Errorf("logs %q lack %q", out.Logs, tc.wantLog)
				}
			}
			for _, l := range out.Logs {
				if strings.Contains(l, Sentinel) || strings.Contains(l, msgLogFailure) {
					t.Errorf("log line %q", l)
				}
			}
		})
	}
}

func TestNodejsRequireOpenwhisk(t *testing.T) {
	needNode(t)
	p := newPool(t, nil)
	if err := p.PrepareNode(context.Background()); err != nil {
		t.Skipf("the openwhisk npm package cannot be installed here: %v", err)
	}
	code := `const openwhisk = require('openwhisk');
function main() {
  const ow = openwhisk();
  return {ok: typeof ow.actions.invoke === 'function', version: require('openwhisk/package.json').version};
}`
	s := spec(whisk.Exec{Kind: "nodejs:20", Code: code}, 20000, 256)
	in := input(t, map[string]any{}, 20*time.Second)
	in.APIKey = "uuid:key" // openwhisk() reads __OW_API_KEY and __OW_API_HOST
	out, err := p.Run(context.Background(), s, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"ok":true,"version":"` + OpenWhiskNPMVersion + `"}`; string(out.Result) != want {
		t.Fatalf("result %s (status %d, logs %q), want %s", out.Result, out.StatusCode, out.Logs, want)
	}
}

func TestNodejsWithoutNPM(t *testing.T) {
	needNode(t)
	p := newPool(t, func(c *Config) {
		c.NPM = filepath.Join(t.TempDir(), "no-npm")
		c.CacheDir = t.TempDir()
	})
	s := spec(whisk.Exec{Kind: "nodejs:20", Code: "const ow = require('openwhisk'); function main() { return {} }"}, 20000, 256)
	out := run(t, p, s, map[string]any{})
	if out.StatusCode != StatusDevError || !strings.Contains(errorText(t, out), "could not install it") {
		t.Errorf("require without the package: status %d, %s", out.StatusCode, out.Result)
	}
	plain := spec(whisk.Exec{Kind: "nodejs:20", Code: "function main() { return {plain: true} }"}, 20000, 256)
	if out := run(t, p, plain, map[string]any{}); string(out.Result) != `{"plain":true}` {
		t.Errorf("action without require: %s", out.Result)
	}
}

// TestNodejsNodePath runs require('openwhisk') from the configured node
// path, as scripts/npmtools.sh installs it, and installs nothing.
func TestNodejsNodePath(t *testing.T) {
	needNode(t)
	dir, err := npmtest.NodePath()
	if err != nil {
		t.Skip(err)
	}
	p := newPool(t, func(c *Config) {
		c.NodePath = dir
		c.NPM = filepath.Join(t.TempDir(), "no-npm") // the pool must not need it
		c.CacheDir = t.TempDir()
	})
	if err := p.PrepareNode(context.Background()); err != nil {
		t.Fatalf("PrepareNode: %v", err)
	}
	code := `const openwhisk = require('openwhisk');
function main() {
  return {type: typeof openwhisk, invoke: typeof openwhisk({apihost: 'http://127.0.0.1:1', api_key: 'u:k'}).actions.invoke,
    version: require('openwhisk/package.json').version, from: require.resolve('openwhisk')};
}`
	out := run(t, p, spec(whisk.Exec{Kind: "nodejs:20", Code: code}, 20000, 256), map[string]any{})
	m := resultMap(t, out)
	if m["type"] != "function" || m["invoke"] != "function" || m["version"] != OpenWhiskNPMVersion {
		t.Fatalf("result %s (status %d, logs %q), want openwhisk@%s's functions", out.Result, out.StatusCode, out.Logs, OpenWhiskNPMVersion)
	}
	if _, err := os.Stat(filepath.Join(p.cfg.CacheDir, "npm")); !os.IsNotExist(err) {
		t.Errorf("the pool installed packages although NodePath is set (%v)", err)
	}
}

// TestNodejsRuntimeModules requires, from the node path npmtools installs,
// the modules Apache's nodejs runtime preinstalls, with what
// openwhisk-composer's parallel calls on them.
func TestNodejsRuntimeModules(t *testing.T) {
	needNode(t)
	dir, err := npmtest.NodePath()
	if err != nil {
		t.Skip(err)
	}
	p := newPool(t, func(c *Config) { c.NodePath = dir })
	code := `function main() {
  return {redis: typeof require('redis').createClient, commands: Array.isArray(require('redis-commands').list),
    uuid: require('uuid').v4().length, express: typeof require('express'),
    openwhisk: typeof require('openwhisk')};
}`
	out := run(t, p, spec(whisk.Exec{Kind: "nodejs:20", Code: code}, 20000, 256), map[string]any{})
	if want := `{"redis":"function","commands":true,"uuid":36,"express":"function","openwhisk":"function"}`; string(out.Result) != want {
		t.Fatalf("result %s (status %d, logs %q), want %s", out.Result, out.StatusCode, out.Logs, want)
	}
	for _, m := range RuntimeNodeModules {
		name := m[:strings.LastIndex(m, "@")]
		if _, err := os.Stat(filepath.Join(dir, name, "package.json")); err != nil {
			t.Errorf("%s is not on the node path: %v", m, err)
		}
	}
}

// TestNodejsNodePathMissing: a node path without the package is not an
// install failure: require says which directory lacks it and how to fix
// it, and other actions run.
func TestNodejsNodePathMissing(t *testing.T) {
	needNode(t)
	for name, dir := range map[string]string{"empty": t.TempDir(), "absent": filepath.Join(t.TempDir(), "absent")} {
		t.Run(name, func(t *testing.T) {
			p := newPool(t, func(c *Config) {
				c.NodePath = dir
				c.NPM = filepath.Join(t.TempDir(), "no-npm")
				c.CacheDir = t.TempDir()
			})
			if err := p.PrepareNode(context.Background()); err == nil || !strings.Contains(err.Error(), dir) {
				t.Errorf("PrepareNode: %v, want an error naming %s", err, dir)
			}
			s := spec(whisk.Exec{Kind: "nodejs:20", Code: "const ow = require('openwhisk'); function main() { return {} }"}, 20000, 256)
			out := run(t, p, s, map[string]any{})
			msg := errorText(t, out)
			for _, want := range []string{"Cannot find module 'openwhisk'", "node path " + dir + " has no openwhisk package", "scripts/npmtools.sh install"} {
				if out.StatusCode != StatusDevError || !strings.Contains(msg, want) {
					t.Errorf("require without the package: status %d, error %q lacks %q", out.StatusCode, msg, want)
				}
			}
			plain := spec(whisk.Exec{Kind: "nodejs:20", Code: "function main() { return {plain: true} }"}, 20000, 256)
			if out := run(t, p, plain, map[string]any{}); string(out.Result) != `{"plain":true}` {
				t.Errorf("action without require: %s", out.Result)
			}
		})
	}
}

func TestWarmReuse(t *testing.T) {
	needNode(t)
	p := newPool(t, nil)
	s := spec(whisk.Exec{Kind: "nodejs:20", Code: "let calls = 0; function main(p) { calls++; return new Promise(r => setTimeout(() => r({pid: process.pid, calls}), p.ms || 0)) }"}, 20000, 256)
	first := run(t, p, s, map[string]any{})
	second := run(t, p, s, map[string]any{})
	a, b := resultMap(t, first), resultMap(t, second)
	if a["pid"] != b["pid"] || b["calls"] != 2.0 {
		t.Errorf("second run not in the warm container: %v then %v", a, b)
	}
	if first.InitTime <= 0 || second.InitTime != 0 {
		t.Errorf("InitTime %v then %v, want >0 then 0", first.InitTime, second.InitTime)
	}
	// A new version gets a container of its own.
	s2 := s
	s2.Version = "0.0.2"
	if c := resultMap(t, run(t, p, s2, map[string]any{})); c["pid"] == a["pid"] {
		t.Errorf("version 0.0.2 ran in version 0.0.1's container")
	}
	// A busy container means another one.
	var wg sync.WaitGroup
	pids := make([]any, 2)
	for i := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Run(context.Background(), s, input(t, map[string]any{"ms": 500}, 20*time.Second))
			if err != nil {
				t.Error(err)
				return
			}
			pids[i] = resultMap(t, out)["pid"]
		}()
	}
	wg.Wait()
	if pids[0] == pids[1] {
		t.Errorf("two concurrent runs shared container %v", pids[0])
	}
	if st := p.Stats(); st.Idle != 3 || st.Busy != 0 {
		t.Errorf("stats %+v, want 3 idle", st)
	}
}

func TestReapIdle(t *testing.T) {
	needNode(t)
	p := newPool(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	s := spec(whisk.Exec{Kind: "nodejs:20", Code: "function main() { return {pid: process.pid} }"}, 20000, 256)
	out := run(t, p, s, map[string]any{})
	pid := int(resultMap(t, out)["pid"].(float64))
	if !proctest.WaitUntil(10*time.Second, func() bool { return p.Stats() == Stats{} }) {
		t.Fatalf("idle container not reaped: %+v", p.Stats())
	}
	if !proctest.WaitUntil(5*time.Second, func() bool { return proctest.Gone(pid) }) {
		t.Errorf("reaped container's process %d still runs", pid)
	}
	again := run(t, p, s, map[string]any{})
	if again.InitTime <= 0 {
		t.Error("run after reaping was not a cold start")
	}
}

func TestCloseKillsBusyContainers(t *testing.T) {
	p := newPool(t, nil)
	dir := actionDir(t)
	code := "#!/bin/sh\necho $$ > " + filepath.Join(dir, "pid") + "\nsleep 60\necho '{}'\n"
	s := spec(whisk.Exec{Kind: "native", Code: code}, 60000, 256)
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		_, runErr = p.Run(context.Background(), s, input(t, map[string]any{}, time.Minute))
	}()
	var pid int
	if !proctest.WaitUntil(10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	}) {
		t.Fatal("action did not start")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	if !errors.Is(runErr, errPoolClosed) {
		t.Errorf("run cut short by Close: err %v, want %v", runErr, errPoolClosed)
	}
	if !proctest.Gone(pid) {
		t.Errorf("process %d outlived Close", pid)
	}
}

func TestMemoryLimit(t *testing.T) {
	needNode(t)
	// Allocates and touches allocMB in 16 MB steps.
	code := "function main(p) { const b = []; for (let i = 0; i < p.mb / 16; i++) b.push(Buffer.alloc(16 << 20, 1)); return {mb: b.length * 16} }"
	probe := newPool(t, nil)
	limiters := []string{probe.MemoryLimiter()}
	if limiters[0] != LimiterRlimit {
		limiters = append(limiters, LimiterRlimit)
	}
	t.Logf("memory limiter here: %s", probe.MemoryLimiter())
	for _, lim := range limiters {
		for _, tc := range []struct {
			memoryMB, allocMB int
			wantStatus        int
		}{
			{memoryMB: 128, allocMB: 320, wantStatus: StatusDevError},
			{memoryMB: 512, allocMB: 64, wantStatus: StatusSuccess},
		} {
			t.Run(lim+"/"+strconv.Itoa(tc.memoryMB)+"MB-alloc"+strconv.Itoa(tc.allocMB), func(t *testing.T) {
				p := newPool(t, func(c *Config) { c.MemoryLimiter = lim })
				s := spec(whisk.Exec{Kind: "nodejs:20", Code: code}, 30000, tc.memoryMB)
				out := run(t, p, s, map[string]any{"mb": tc.allocMB})
				if out.StatusCode != tc.wantStatus {
					t.Fatalf("status %d, want %d; result %s; logs %q", out.StatusCode, tc.wantStatus, out.Result, out.Logs)
				}
				if tc.wantStatus == StatusDevError && lim != LimiterRlimit {
					if got := errorText(t, out); got != msgMemoryExhausted {
						t.Errorf("error %q, want %q", got, msgMemoryExhausted)
					}
				}
				t.Logf("result %s", out.Result)
			})
		}
	}
}
