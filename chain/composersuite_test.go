package chain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/internal/npmtest"
	"github.com/wskx/wskx/internal/redistest"
	"github.com/wskx/wskx/local"
	"github.com/wskx/wskx/policies"
)

// The composer suite: openwhisk-composer's own tests (its
// test/conductor.js) as data, each composition compiled by composer's
// real compiler and run both on composer's own conductor (the platform
// must run composer as OpenWhisk does, parallel and map through a real
// Redis) and as a wskx conductor (wskx must give composer's results).

const suiteDir = "testdata/composersuite"

// suiteTests is how many tests test/conductor.js has (84 its and the 3
// parallel tests it runs only with a redis): each is some case's suite.
const suiteTests = 87

type suiteFile struct {
	Actions []string    `yaml:"actions"`
	Cases   []suiteCase `yaml:"cases"`
}

// suiteCase is one case of cases.yaml; its header says what each field
// means.
type suiteCase struct {
	Name        string         `yaml:"name"`
	Suite       string         `yaml:"suite"`
	Composition string         `yaml:"composition"`
	Input       map[string]any `yaml:"input"`
	Fanout      bool           `yaml:"fanout"`

	Result       any      `yaml:"result"`
	Fails        bool     `yaml:"fails"`
	Error        string   `yaml:"error"`
	Has          []string `yaml:"has"`
	CompileError string   `yaml:"compile_error"`
	ActionName   string   `yaml:"action_name"`
}

// expectations counts how many of the exclusive expectation fields are set.
func (c suiteCase) expectations() int {
	n := 0
	for _, set := range []bool{c.Result != nil, c.Fails, c.Error != "", len(c.Has) > 0, c.CompileError != "", c.ActionName != ""} {
		if set {
			n++
		}
	}
	return n
}

func loadSuiteCases(t *testing.T) suiteFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(suiteDir, "cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f suiteFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("cases.yaml: %v", err)
	}
	names, suites := map[string]bool{}, map[string]bool{}
	for i, c := range f.Cases {
		at := fmt.Sprintf("case %d (%s)", i, c.Name)
		switch {
		case c.Name == "" || c.Suite == "" || c.Composition == "":
			t.Errorf("%s: a name, a suite and a composition are required", at)
		case names[c.Name]:
			t.Errorf("%s: a second case of that name", at)
		case c.expectations() != 1:
			t.Errorf("%s: %d expectations, want one of result, fails, error, has, compile_error, action_name", at, c.expectations())
		case (c.CompileError != "" || c.ActionName != "") && c.Fanout:
			t.Errorf("%s: a case composer only compiles does not fan out", at)
		}
		names[c.Name], suites[c.Suite] = true, true
	}
	if len(suites) != suiteTests {
		t.Errorf("cases.yaml covers %d of the suite's tests, want %d", len(suites), suiteTests)
	}
	for _, a := range f.Actions {
		if _, err := os.Stat(filepath.Join(suiteDir, "actions", a+".js")); err != nil {
			t.Error(err)
		}
	}
	return f
}

// compiledCase is what compile.js gives for a case: compile()'s JSON, or
// the message composer threw.
type compiledCase struct {
	Name     string          `json:"name"`
	Compiled json.RawMessage `json:"compiled"`
	Error    string          `json:"error"`
}

// compileSuite compiles every case in one node process.
func compileSuite(t *testing.T, ctx context.Context, tools npmtest.Tools, cases []suiteCase) map[string]compiledCase {
	t.Helper()
	type req struct {
		Name        string `json:"name"`
		Composition string `json:"composition"`
	}
	reqs := make([]req, len(cases))
	for i, c := range cases {
		reqs[i] = req{c.Name, c.Composition}
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "cases.json")
	b, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join(suiteDir, "compile.js"))
	if err != nil {
		t.Fatal(err)
	}
	out := runNode(t, ctx, tools, dir, script, tools.ComposerHome, in)
	var got []compiledCase
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("compile.js: %v\n%s", err, out)
	}
	byName := map[string]compiledCase{}
	for _, g := range got {
		byName[g.Name] = g
	}
	if len(byName) != len(cases) {
		t.Fatalf("compile.js compiled %d cases of %d", len(byName), len(cases))
	}
	return byName
}

// check compares what one invocation gave with the case's expectation,
// and returns the result less the chain summary.
func (c suiteCase) check(t *testing.T, who string, res crossResult) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(res.Result, &m); err != nil {
		t.Fatalf("%s: result %s: %v", who, res.Result, err)
	}
	delete(m, hop.StateKey)
	own, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(c.Input)
	t.Logf("%s: %s -> %s (%s)", who, in, own, res.Status)
	status := "success"
	switch {
	case c.Result != nil:
		want, err := json.Marshal(c.Result)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonSame(own, want) {
			t.Errorf("%s: result %s, want %s", who, own, want)
		}
		status = wantStatus(t, want)
	case c.Fails:
		// The suite asks for a truthy error.
		if e := m["error"]; e == nil || e == "" || e == false || e == 0.0 {
			t.Errorf("%s: result %s, want an error", who, own)
		}
		status = "application error"
	case c.Error != "":
		if m["error"] != c.Error {
			t.Errorf("%s: result %s, want the error %q", who, own, c.Error)
		}
		status = "application error"
	case len(c.Has) > 0:
		for _, k := range c.Has {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: result %s, want a field %s", who, own, k)
			}
		}
	}
	if res.Status != status {
		t.Errorf("%s: status %q, want %q", who, res.Status, status)
	}
	return own
}

// writeCompiled writes a case's compile() JSON where LoadWorkflow and
// composer's deploy read it.
func writeCompiled(t *testing.T, name string, compiled json.RawMessage) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(file, compiled, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// wskxPlan reads a compiled composition as a wskx workflow and compiles
// its conductor.
func wskxPlan(file, name string, o policies.Overrides) (*composer.Plan, error) {
	w, err := policies.LoadWorkflow(file)
	if err != nil {
		return nil, err
	}
	if w, err = w.With(o, file); err != nil {
		return nil, err
	}
	return composer.CompileWorkflow(w, composer.Options{Name: name})
}

// deploySuiteComposition deploys the composition the suite deploys next
// to its actions, compiled by composer's compose command, as a wskx
// conductor, and checks it divides.
func deploySuiteComposition(t *testing.T, ctx context.Context, tools npmtest.Tools, e *env) {
	t.Helper()
	const name = "_DivideByTwo"
	src, err := filepath.Abs(filepath.Join(suiteDir, "actions", name+".js"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, name+".json")
	runNode(t, ctx, tools, dir, tools.Compose(), src, "-o", file)
	plan, err := wskxPlan(file, name, policies.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := chain.Deploy(ctx, e.api, plan); err != nil {
		t.Fatal(err)
	}
	suiteCase{Input: map[string]any{"n": 42}, Result: map[string]any{"n": 21}}.check(t, name, invokeCross(t, ctx, e.api, name, map[string]any{"n": 42}))
}

// TestComposerSuite runs openwhisk-composer's own test suite on the
// built-in platform: every case's composition compiled by composer, run
// on composer's own conductor (fan-outs with a Redis the test starts) and
// as a wskx conductor, each with the suite's results; the cases that fan
// out run on wskx with each join.
func TestComposerSuite(t *testing.T) {
	file := loadSuiteCases(t)
	tools, err := npmtest.Find()
	if err != nil {
		t.Skipf("openwhisk-composer's suite needs node, openwhisk-composer and the openwhisk client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	compiled := compileSuite(t, ctx, tools, file.Cases)
	e := startPlatformWith(t, t.TempDir(), nil, 0, func(o *local.Options) { o.NodePath = tools.NodePath })
	defer e.lp.Close()
	deployNodeActions(t, ctx, e.api, filepath.Join(suiteDir, "actions"), file.Actions)
	deploySuiteComposition(t, ctx, tools, e)
	// openwhisk-composer's own conductor runs every case too: its suite is
	// the spec, and the platform must run it as OpenWhisk does. Its
	// parallel and map join through a real Redis.
	redis := ""
	if _, err := exec.LookPath("redis-server"); err == nil {
		redis = redistest.Start(t)
	}

	store := t.TempDir()
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			cc := compiled[c.Name]
			if c.CompileError != "" {
				if cc.Error == "" {
					t.Fatalf("composer compiles %s, want its error %q...", c.Composition, c.CompileError)
				}
				if !strings.HasPrefix(cc.Error, c.CompileError) {
					t.Errorf("composer refuses %s with %q, want %q...", c.Composition, cc.Error, c.CompileError)
				}
				return
			}
			if cc.Error != "" {
				t.Fatalf("composer refuses %s: %s", c.Composition, cc.Error)
			}
			f := writeCompiled(t, c.Name, cc.Compiled)
			if c.Input == nil {
				c.Input = map[string]any{}
			}
			var theirs json.RawMessage
			// First, so that the expectation is checked even where wskx fails.
			switch {
			case c.ActionName != "":
				// A case of composer's compiler: nothing runs.
			case c.Fanout && redis == "":
				t.Logf("composer's own conductor not run: its parallel needs redis-server (%s)", redistest.Hint)
			default:
				input := c.Input
				if c.Fanout {
					input = maps.Clone(c.Input)
					input["$composer"] = map[string]any{"redis": map[string]any{"uri": redis}}
				}
				composerDeployFile(t, ctx, tools, e, "cc-"+c.Name, f)
				theirs = c.check(t, "composer", invokeCross(t, ctx, e.api, "cc-"+c.Name, input))
			}
			plan, err := wskxPlan(f, "cs-"+c.Name, policies.Overrides{StorageURL: "file://" + store})
			if err != nil {
				t.Fatalf("wskx: %v", err)
			}
			if c.ActionName != "" {
				var doc struct {
					AST struct {
						Type string `json:"type"`
						Name string `json:"name"`
					} `json:"ast"`
				}
				if err := json.Unmarshal(cc.Compiled, &doc); err != nil {
					t.Fatal(err)
				}
				if doc.AST.Type != "action" || doc.AST.Name != c.ActionName {
					t.Errorf("composer makes %s the %s %q, want the action %q", c.Composition, doc.AST.Type, doc.AST.Name, c.ActionName)
				}
				return
			}
			if err := chain.Deploy(ctx, e.api, plan); err != nil {
				t.Fatal(err)
			}
			ours := c.check(t, "wskx", invokeCross(t, ctx, e.api, "cs-"+c.Name, c.Input))
			if c.Fanout {
				// The other join: the parent ends with a pointer, and the
				// last branch goes on; the result is at the end of it.
				name := "cs-" + c.Name + "-handoff"
				plan, err := wskxPlan(f, name, policies.Overrides{StorageURL: "file://" + store, Join: policies.JoinHandoff})
				if err != nil {
					t.Fatal(err)
				}
				if err := chain.Deploy(ctx, e.api, plan); err != nil {
					t.Fatal(err)
				}
				comp, err := chain.Lookup(ctx, e.api, name)
				if err != nil {
					t.Fatal(err)
				}
				out, err := follow(ctx, e, comp, c.Input, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := c.check(t, "wskx handoff", crossResult{Status: out.Status, Result: out.Result}); !jsonSame(got, ours) {
					t.Errorf("join handoff gives %s, join wait %s", got, ours)
				}
			}
			if theirs != nil && !jsonSame(ours, theirs) {
				// Only where the suite leaves room (an error's message).
				t.Logf("wskx's result is not composer's: %s, composer %s", ours, theirs)
			}
		})
	}
	t.Logf("%d cases in %v", len(file.Cases), time.Since(start).Round(time.Millisecond))
}
