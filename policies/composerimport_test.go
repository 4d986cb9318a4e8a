package policies

import (
	"strings"
	"testing"
)

func TestLoadComposerComposition(t *testing.T) {
	tests := []struct {
		file, kinds string
		actions     int
	}{
		// demo.js compiled by openwhisk-composer 0.12's compose command.
		{"testdata/composer/demo.json", "sequence action retry sequence action let sequence while function action if function value action " +
			"try action mask sequence merge sequence action finally retain_catch sequence action dynamic", 1},
		// A bare AST, as composer's compile gives it.
		{"testdata/composer/bare.json", "sequence action if action action action", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			w, err := LoadWorkflow(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			w.Root.Walk(func(n *Node) { kinds = append(kinds, string(n.Kind)) })
			if got := strings.Join(kinds, " "); got != tt.kinds {
				t.Errorf("walk:\n got %s\nwant %s", got, tt.kinds)
			}
			if len(w.Actions) != tt.actions {
				t.Errorf("%d embedded actions, want %d", len(w.Actions), tt.actions)
			}
			if w.Single || w.Name == "" {
				t.Errorf("workflow %+v", w)
			}
		})
	}
	w, _ := LoadWorkflow("testdata/composer/demo.json")
	if a := w.Actions[0]; a.Name != "inc2" || a.Kind != "nodejs:default" || !strings.Contains(a.Code, "p.value + 2") {
		t.Errorf("embedded action %+v", a)
	}
	retry := w.Root.Components[1]
	if retry.Times != 2 || retry.Path != "[1]" || retry.Body.Components[0].Action != "/_/inc" {
		t.Errorf("retry node %+v", retry)
	}
	test := w.Root.Components[2].Body.Components[0].Test
	if test.JS != "() => count-- > 0" || test.Expr != "" {
		t.Errorf("while test %+v, want composer's JavaScript", test)
	}
}

func TestParseComposerBadInput(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown type", `{"type": "sequence", "components": [{"type": "fork"}]}`, `c.json:1:46: ast[0]: unknown composition node type "fork"`},
		{"missing test", `{"type": "if", "consequent": {"type": "empty"}}`, "c.json:1:1: ast.test: required"},
		{"python function", `{"type": "function", "function": {"exec": {"kind": "python:3", "code": "x"}}}`, "ast.function.exec.kind: only JavaScript functions"},
		{"bad count", `{"type": "repeat", "count": "3", "components": []}`, "ast.count: expected a whole number"},
		{"bad variable", `{"type": "let", "declarations": {"$x": 1}, "components": []}`, "expected a JavaScript variable name"},
		{"node not a mapping", `{"type": "sequence", "components": [3]}`, "ast[0]: expected a composition node"},
		{"other version", `{"composition": {"type": "empty"}, "ast": {"type": "empty"}, "version": "0.9.0"}`, "version: compositions of openwhisk-composer 0.12 are read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWorkflow([]byte(tt.src), "c.json", ".")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// A workflow embeds a composition with a composer node, with jobs around
// it.
func TestWorkflowEmbedsComposition(t *testing.T) {
	src := "composition:\n  sequence:\n    - composer: composer/bare.json\n    - job: workflows/factors-job.yaml\n"
	w, err := ParseWorkflow([]byte(src), "w.yaml", "testdata")
	if err != nil {
		t.Fatal(err)
	}
	if c := w.Root.Components; len(c) != 2 || c[0].Kind != KindSequence || c[0].Components[1].Kind != KindIf || c[1].Kind != KindJob {
		t.Errorf("tree %+v", w.Root)
	}
	_, err = ParseWorkflow([]byte("composition:\n  composer: workflows/report.yaml\n"), "w.yaml", "testdata")
	if err == nil || !strings.Contains(err.Error(), "is not an openwhisk-composer composition") {
		t.Errorf("err = %v", err)
	}
}

// A composer node's jobs make long jobs of the composition's actions.
func TestWorkflowEmbedsCompositionWithJobs(t *testing.T) {
	src := "composition:\n  composer: composer/bare.json\n  jobs:\n    c: workflows/factors-job.yaml\n"
	w, err := ParseWorkflow([]byte(src), "w.yaml", "testdata")
	if err != nil {
		t.Fatal(err)
	}
	jobs := w.Jobs()
	if len(jobs) != 1 || jobs[0].Job.Name != "factors" || w.Root.Components[1].Then.Kind != KindJob {
		t.Fatalf("jobs %v in %+v", jobs, w.Root)
	}
	if _, err := ParseWorkflow([]byte("composition:\n  composer: composer/bare.json\n  jobs: {nothere: workflows/factors-job.yaml}\n"), "w.yaml", "testdata"); err == nil ||
		!strings.Contains(err.Error(), `w.yaml:3:10: composition.jobs.nothere: the composition has no action "nothere"`) {
		t.Errorf("err = %v", err)
	}
}
