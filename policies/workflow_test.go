package policies

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadWorkflow(t *testing.T) {
	w, err := LoadWorkflow("testdata/workflows/report.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "report" || w.Single || w.LengthLimit != DefaultLengthLimit {
		t.Errorf("workflow %+v", w)
	}
	key, err := w.Key(map[string]any{})
	if err != nil || key != "1000000000000000003" {
		t.Errorf("key = %q, %v; want the default n", key, err)
	}
	var kinds []string
	w.Root.Walk(func(n *Node) { kinds = append(kinds, string(n.Kind)) })
	want := "sequence action retry job function let while function sequence set action if function value try job empty retain_catch action merge action mask dynamic"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("walk:\n got %s\nwant %s", got, want)
	}
	jobs := w.Jobs()
	if len(jobs) != 2 {
		t.Fatalf("jobs = %d, want 2", len(jobs))
	}
	if j := jobs[0]; j.Job.Name != "factors" || j.Path != "composition.sequence[1].retry.do" || !filepath.IsAbs(j.Job.Job.Command[0]) {
		t.Errorf("file job: %s %q %v", j.Path, j.Job.Name, j.Job.Job.Command)
	}
	if j := jobs[1]; j.Job.Name != "inline" || j.Path != "composition.sequence[5].try.do" || !strings.HasSuffix(j.Job.Job.Command[0], "testdata/workflows/bin/count") {
		t.Errorf("inline job: %s %q %v", j.Path, j.Job.Name, j.Job.Job.Command)
	}
	prep := w.Root.Components[0]
	if prep.Action != "prepare" || prep.Params["mode"] != "fast" || prep.Line != 6 {
		t.Errorf("action node %+v", prep)
	}
}

func TestLoadWorkflowSingleJob(t *testing.T) {
	w, err := LoadWorkflow("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !w.Single || w.Root.Kind != KindJob || w.Root.Job == nil || w.Name != w.Root.Job.Name {
		t.Errorf("single-job workflow %+v", w)
	}
}

func TestParseWorkflowBadInput(t *testing.T) {
	dir := "testdata/workflows"
	tests := []struct {
		name, src, want, msg string
	}{
		{"unknown combinator", "composition:\n  sequnce: []\n", "w.yaml:2:3: composition", "expected one combinator key: action, async, composer, dowhile"},
		{"two combinators", "composition:\n  action: a\n  function: '{}'\n", "w.yaml:3:3: composition.function", "two combinators in one node"},
		{"unknown field beside", "composition:\n  action: a\n  parms: {}\n", "w.yaml:3:3: composition.parms", "expected params"},
		{"field beside a plain combinator", "composition:\n  mask: a\n  x: 1\n", "w.yaml:3:3: composition.x", "mask takes no other field"},
		{"node of the wrong kind", "composition:\n  sequence: [1]\n", "w.yaml:2:14: composition.sequence[0]", "expected a node"},
		{"sequence not a list", "composition:\n  sequence: a\n", "w.yaml:2:13: composition.sequence", "expected a list of nodes"},
		{"if without then", "composition:\n  if: {test: a}\n", "w.yaml:2:7: composition.if.then", "required"},
		{"unknown if field", "composition:\n  if: {test: a, then: b, otherwise: c}\n", "w.yaml:2:26: composition.if.otherwise", "unknown field; expected one of else, nosave, test, then"},
		{"nosave not boolean", "composition:\n  while: {test: a, do: b, nosave: sometimes}\n", "w.yaml:2:35: composition.while.nosave", "expected true or false"},
		{"try nosave", "composition:\n  try: {do: a, catch: b, nosave: true}\n", "w.yaml:2:26: composition.try.nosave", "unknown field"},
		{"retry without times", "composition:\n  retry: {do: a}\n", "w.yaml:2:10: composition.retry.times", "required"},
		{"negative repeat", "composition:\n  repeat: {times: -1, do: a}\n", "w.yaml:2:19: composition.repeat.times", "0 or more"},
		{"function does not compile", "composition:\n  function: 'params.n +'\n", "w.yaml:2:23: composition.function", "in expression"},
		{"function of the wrong type", "composition:\n  function: '1 + 2'\n", "w.yaml:2:13: composition.function", "expected a mapping (the next value) or a boolean, got int"},
		{"function names an unknown variable", "composition:\n  function: 'count > 1'\n", "w.yaml:2:13: composition.function", "unknown name count (params is the current value; no variable is in scope)"},
		{"set outside let", "composition:\n  set: {i: '1'}\n", "w.yaml:2:12: composition.set.i", "i is not a variable in scope (no variable is in scope)"},
		{"set of a masked variable", "composition:\n  let:\n    vars: {i: 0}\n    do: {mask: {set: {i: 'i + 1'}}}\n", "w.yaml:4:26: composition.let.do.mask.set.i", "not a variable in scope"},
		{"bad variable name", "composition:\n  let: {vars: {params: 1}, do: a}\n", "w.yaml:2:15: composition.let.vars.params", "expected a variable name"},
		{"let without do", "composition:\n  let: {vars: {i: 1}}\n", "w.yaml:2:8: composition.let.do", "required"},
		{"bad action name", "composition: 'a/b/c'\n", "w.yaml:1:14: composition", "expected an action name, pkg/name or /ns/pkg/name"},
		{"job file missing", "composition:\n  job: nothere.yaml\n", "w.yaml:2:8: composition.job", "nothere.yaml does not exist"},
		{"job file invalid", "composition:\n  job: bad-job.yaml\n", "testdata/workflows/bad-job.yaml:3:11: job.engine", "expected one of"},
		{"job file is a workflow", "composition:\n  job: nested.yaml\n", "w.yaml:2:8: composition.job", "is a workflow"},
		{"inline job invalid", "composition:\n  job: {job: {command: [x], timeout: 1h}}\n", "w.yaml:2:38: composition.job.job.timeout", "OpenWhisk's bounds"},
		{"inline job unknown section", "composition:\n  job: {jobb: {}}\n", "w.yaml:2:9: composition.job.jobb", "unknown field"},
		{"dynamic with arguments", "composition:\n  dynamic: {name: a}\n", "w.yaml:2:12: composition.dynamic", "expected {} or nothing"},
		{"alias", "x: &a b\ncomposition: *a\n", "w.yaml", "unknown field"},
		{"key not a string", "idempotency_key: '1 + 1'\ncomposition: a\n", "w.yaml:1:18: idempotency_key", "yielding a string"},
		{"no composition", "name: w\n", "w.yaml:1:1: composition", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWorkflow([]byte(tt.src), "w.yaml", dir)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error:\n%v\nwant %q ... %q", err, tt.want, tt.msg)
			}
		})
	}
}

// A file with many mistakes reports all of them in one pass.
func TestParseWorkflowAllErrorsAtOnce(t *testing.T) {
	src := `composition:
  sequence:
    - sequnce: []
    - if: {test: a}
    - function: 'nope'
    - job: nothere.yaml
    - retry: {times: x, do: a}
`
	_, err := ParseWorkflow([]byte(src), "w.yaml", t.TempDir())
	list, ok := err.(ErrorList)
	if !ok || len(list) != 5 {
		t.Fatalf("want 5 errors, got %v", err)
	}
}

func TestParseWorkflowValues(t *testing.T) {
	src := "composition:\n  sequence:\n    - literal: [1, {a: b}]\n    - value: null\n    - retain: a\n      catch: true\n    - retain: a\n"
	w, err := ParseWorkflow([]byte(src), "w.yaml", ".")
	if err != nil {
		t.Fatal(err)
	}
	c := w.Root.Components
	if v, ok := c[0].Value.([]any); !ok || len(v) != 2 || v[0] != float64(1) {
		t.Errorf("literal = %#v", c[0].Value)
	}
	if c[1].Kind != KindValue || c[1].Value != nil {
		t.Errorf("null value = %+v", c[1])
	}
	if c[2].Kind != KindRetainCatch || c[3].Kind != KindRetain {
		t.Errorf("retain kinds %s %s", c[2].Kind, c[3].Kind)
	}
}

func TestParseWorkflowJSON(t *testing.T) {
	src := `{"name": "j", "composition": {"seq": ["a", {"action": "b", "params": {"x": 1}}, null]}}`
	w, err := ParseWorkflow([]byte(src), "w.json", ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Root.Components) != 3 || w.Root.Components[2].Kind != KindEmpty || w.Root.Components[1].Params["x"] != float64(1) {
		t.Errorf("tree %+v", w.Root)
	}
}

func TestLoadWorkflowMissingFile(t *testing.T) {
	_, err := LoadWorkflow(filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("err = %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
