package program

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/wskx/wskx/policies"
)

// layout prints a program as testdata/layouts.js prints the conductor's.
func layout(p *Program) []string {
	out := make([]string, len(p.Instrs))
	for i, in := range p.Instrs {
		s := string(in.Op)
		switch in.Op {
		case OpLet:
			if in.Mask {
				s = "mask"
			}
		case OpAction, OpJob, OpFunction, OpBuiltin, OpDynamic, OpSet, OpValue:
			s = "call"
		}
		for _, j := range []struct {
			name string
			rel  int
		}{{"next", in.Next}, {"then", in.Then}, {"else", in.Else}, {"catch", in.Catch}} {
			if j.rel != 0 {
				s += fmt.Sprintf(" %s=%d", j.name, j.rel)
			}
		}
		out[i] = s
	}
	return out
}

// TestLayouts lowers trees to exactly the instruction layout that
// openwhisk-composer 0.12 compiles the same compositions to (recorded in
// testdata/layouts.json by testdata/layouts.js): same instructions, same
// jumps, same frames, the lowerer's closures becoming builtins.
func TestLayouts(t *testing.T) {
	data, err := os.ReadFile("testdata/layouts.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]string
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	a, b := act("a"), act("b")
	trees := map[string]*policies.Node{
		"action":         a,
		"sequence":       seq(a, b),
		"sequence_empty": seq(),
		"empty":          {Kind: policies.KindEmpty},
		"function":       fn("{}"),
		"dynamic":        dynamic(),
		"try":            try(a, b),
		"finally":        finally(a, b),
		"let":            let(map[string]any{"x": 1.0}, a),
		"mask":           mask(a),
		"if":             ifn(act("t"), a, b),
		"if_no_else":     ifn(act("t"), a, nil),
		"if_nosave":      nosave(ifn(act("t"), a, b)),
		"while":          while(policies.KindWhile, act("t"), a),
		"while_nosave":   nosave(while(policies.KindWhile, act("t"), a)),
		"dowhile":        while(policies.KindDoWhile, act("t"), a),
		"dowhile_nosave": nosave(while(policies.KindDoWhile, act("t"), a)),
		"repeat":         times(policies.KindRepeat, 3, a),
		"retry":          times(policies.KindRetry, 2, a),
		"retain":         body(policies.KindRetain, a),
		"retain_catch":   body(policies.KindRetainCatch, a),
		"merge":          body(policies.KindMerge, a),
		"nested": while(policies.KindWhile, act("t"),
			try(ifn(act("u"), a, nil), let(map[string]any{"y": 2.0}, b))),
	}
	if len(trees) != len(want) {
		t.Errorf("%d trees for %d recorded layouts", len(trees), len(want))
	}
	for name, root := range trees {
		p, err := Lower(root, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := layout(p); !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want[name])
		}
		if _, err := Load(p); err != nil {
			t.Errorf("%s: load: %v", name, err)
		}
	}
}

// TestLowerBuiltins checks which builtin each closure became, in order.
func TestLowerBuiltins(t *testing.T) {
	tests := []struct {
		root *policies.Node
		want string
	}{
		{ifn(act("t"), act("a"), nil), "save $params, load $params, load $params"},
		{while(policies.KindWhile, act("t"), act("a")), "save $params, load $params, save $params, load $params"},
		{times(policies.KindRepeat, 2, act("a")), "save $params, countdown $count, load $params, save $params, load $params"},
		{times(policies.KindRetry, 2, act("a")), "box_params, save $params, load $params, take_params, save $params, wrap_result, retain $params, unwrap, save $params, retry_test $count, load $params, take_result"},
		{body(policies.KindMerge, act("a")), "save $params, retain $params, merge"},
	}
	for _, tt := range tests {
		p, err := Lower(tt.root, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range p.Instrs {
			if in.Op == OpBuiltin {
				got = append(got, strings.TrimSpace(in.Builtin+" "+in.Var))
			}
		}
		if s := strings.Join(got, ", "); s != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.root.Kind, s, tt.want)
		}
	}
}

func TestLowerPathsAndJobs(t *testing.T) {
	root := label(seq(jobNode(), ifn(fn("true"), jobNode(), nil)), "composition")
	var asked []string
	p, err := Lower(root, func(n *policies.Node) (string, json.RawMessage) {
		asked = append(asked, n.Path)
		return "step-" + n.Path, json.RawMessage(`{"n":1}`)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantJobs := []Job{
		{Path: "composition.sequence[0]", Step: "step-composition.sequence[0]", Policy: json.RawMessage(`{"n":1}`)},
		{Path: "composition.sequence[1].then", Step: "step-composition.sequence[1].then", Policy: json.RawMessage(`{"n":1}`)},
	}
	if !reflect.DeepEqual(p.Jobs, wantJobs) {
		t.Errorf("jobs %v, want %v", p.Jobs, wantJobs)
	}
	for i, in := range p.Instrs {
		if in.Path == "" {
			t.Errorf("instruction %d (%s) has no path", i, in.Op)
		}
		if in.Op == OpJob && p.Jobs[in.Job].Path != in.Path {
			t.Errorf("instruction %d runs job %d of %s, but stands at %s", i, in.Job, p.Jobs[in.Job].Path, in.Path)
		}
	}
	// The if's own instructions carry its path; the missing else too.
	if got := p.Instrs[len(p.Instrs)-1].Path; got != "composition.sequence[1]" {
		t.Errorf("the if's closing exit is at %q", got)
	}
}

func TestLowerErrors(t *testing.T) {
	tests := []struct {
		name string
		root *policies.Node
		want string
	}{
		{"no root", nil, "no workflow"},
		{"unknown kind", seq(&policies.Node{Kind: "fork"}), `composition.sequence[0]: unknown combinator "fork"`},
		{"action without a name", act(""), "needs an action name"},
		{"function without an expression", fn(""), "needs an expression"},
		{"function with an expression and JavaScript", &policies.Node{Kind: policies.KindFunction, Expr: "1", JS: "() => 1"}, "not both"},
		{"internal let variable", let(map[string]any{"$count": 1.0}, act("a")), "names starting with $"},
		{"internal set variable", let(map[string]any{"x": 1.0}, set("$params", "1")), "names starting with $"},
		{"params as a variable", let(map[string]any{"params": 1.0}, act("a")), `"params" would hide`},
		{"job without a callback", jobNode(), "no job callback"},
		{"value JSON cannot carry", value(map[string]any{"c": make(chan int)}), "not a JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Lower(label(tt.root, "composition"), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "program: ") {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// TestLowerCopies: the program shares no map with the tree.
func TestLowerCopies(t *testing.T) {
	vars := map[string]any{"x": map[string]any{"y": 1.0}}
	params := map[string]any{"k": []any{1.0}}
	root := let(vars, &policies.Node{Kind: policies.KindAction, Action: "a", Params: params})
	p, err := Lower(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	vars["x"].(map[string]any)["y"] = 2.0
	params["k"].([]any)[0] = 2.0
	if got := p.Instrs[0].Let["x"].(map[string]any)["y"]; got != 1.0 {
		t.Errorf("let value followed the tree: %v", got)
	}
	if got := p.Instrs[1].Params["k"].([]any)[0]; got != 1.0 {
		t.Errorf("action params followed the tree: %v", got)
	}
}
