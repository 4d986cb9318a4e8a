package program

import (
	"testing"

	"github.com/wskx/wskx/policies"
)

func par(ns ...*policies.Node) *policies.Node {
	return &policies.Node{Kind: policies.KindParallel, Components: ns}
}

func mapOf(b ...*policies.Node) *policies.Node { return body(policies.KindMap, b...) }

func async(b ...*policies.Node) *policies.Node { return body(policies.KindAsync, b...) }

// The expected values are composer's conductor's for the same fan-outs:
// each branch's value in order under value, branches' errors inside the
// list, and async's activation record.
func TestFork(t *testing.T) {
	runCases(t, []runCase{
		{name: "parallel gives each branch the input and lists the results in order", root: par(act("inc"), act("dec"), act("echo")),
			input: obj("n", 5), acts: actions{"inc": inc, "dec": dec, "echo": echo},
			want: obj("value", []any{obj("n", 6), obj("n", 4), obj("n", 5)}), calls: []string{"inc", "dec", "echo"}},
		{name: "map runs the body on each element, boxing non-objects", root: mapOf(act("inc")),
			input: obj("value", []any{obj("n", 1), 7}), acts: actions{"inc": inc},
			want: obj("value", []any{obj("n", 2), obj("value", 7, "n", 1)}), calls: []string{"inc", "inc"}},
		{name: "map of nothing goes on with an empty list", root: seq(mapOf(act("inc")), act("echo")),
			input: obj("value", []any{}), acts: actions{"echo": echo}, want: obj("value", []any{}), calls: []string{"echo"}},
		{name: "map without a list is an empty map", root: mapOf(act("inc")), input: obj("n", 1), want: obj("value", []any{})},
		{name: "a branch's error stays in its place", root: try(par(act("fail"), act("inc")), value(obj("caught", true))),
			input: obj("n", 1), acts: actions{"inc": inc, "fail": fail("boom")},
			want: obj("value", []any{obj("error", "boom"), obj("n", 2)}), calls: []string{"fail", "inc"}},
		{name: "a branch's try catches inside the branch", root: par(try(act("fail"), value(obj("ok", 1)))),
			input: obj(), acts: actions{"fail": fail("boom")}, want: obj("value", []any{obj("ok", 1)}), calls: []string{"fail"}},
		{name: "async goes on with the activation", root: seq(async(act("inc")), act("echo")),
			input: obj("n", 1), acts: actions{"inc": inc, "echo": echo},
			want: obj("method", "async", "activationId", "async-2"), calls: []string{"inc", "async", "echo"}},
		{name: "branches see the let variables but keep their assignments",
			root:  let(map[string]any{"k": 1}, seq(par(seq(set("k", "k + 10"), fn(`{"k": k}`)), fn(`{"k": k}`)), fn(`{"after": k, "value": params.value}`))),
			input: obj(), want: obj("after", 1, "value", []any{obj("k", 11), obj("k", 1)})},
	})
}

// TestForkBranchNames: every branch, and every visit of a fan-out, has a
// name of its own, nested branches under their parent's.
func TestForkBranchNames(t *testing.T) {
	m := load(t, times(policies.KindRepeat, 2, par(par(act("echo")), act("echo"))))
	var st State
	ev, err := m.Start(&st, obj())
	names := map[string]bool{}
	var walk func(ev Event, err error)
	walk = func(ev Event, err error) {
		for ev.Kind == Fork || ev.Kind == Call {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind == Call {
				return
			}
			for _, b := range ev.Branches {
				if names[b.State.Branch] {
					t.Fatalf("branch name %q given twice", b.State.Branch)
				}
				names[b.State.Branch] = true
				bst := b.State
				walk(m.Enter(&bst, b.Params))
			}
			ev, err = m.Resume(&st, obj("value", []any{}))
		}
	}
	walk(ev, err)
	if len(names) != 6 {
		t.Errorf("branch names %v, want 6: two visits of two branches, and one nested branch each", names)
	}
}

func TestForkLayout(t *testing.T) {
	m := load(t, par(act("a"), act("b")))
	var ops []Op
	for _, in := range m.Program().Instrs {
		ops = append(ops, in.Op)
	}
	head := m.Program().Instrs[0]
	// The conductor's: [parallel tasks=[1,3] return=5] a stop b stop pass.
	if len(ops) != 6 || head.Op != OpParallel || head.Return != 5 || len(head.Tasks) != 2 || head.Tasks[0] != 1 || head.Tasks[1] != 3 || ops[2] != OpStop || ops[5] != OpPass {
		t.Errorf("layout %v, head %+v", ops, head)
	}
}
