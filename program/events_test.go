package program

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/wskx/wskx/policies"
)

func TestJobVisits(t *testing.T) {
	// A job in a loop: each entry is one more visit of the same node; a
	// second job node counts apart.
	root := seq(jobNode(), let(map[string]any{"i": 0.0}, while(policies.KindWhile, fn("i < 3"), seq(set("i", "i + 1"), jobNode()))))
	m := load(t, root)
	type got struct {
		job, visit int
		path       string
		n          float64
	}
	want := []got{
		{0, 1, "composition.sequence[0]", 0},
		{1, 1, "composition.sequence[1].do.do.sequence[1]", 1},
		{1, 2, "composition.sequence[1].do.do.sequence[1]", 2},
		{1, 3, "composition.sequence[1].do.do.sequence[1]", 3},
	}
	for run := 0; run < 2; run++ { // a new Start forgets the visits
		var st State
		var seen []got
		ev, err := m.Start(&st, obj("n", 0))
		for err == nil && ev.Kind == RunJob {
			seen = append(seen, got{ev.Job, ev.Visit, ev.Path, ev.Params["n"].(float64)})
			if st.Visits[ev.Job] != ev.Visit {
				t.Errorf("visits %v, event visit %d", st.Visits, ev.Visit)
			}
			st = stateTrip(t, st)
			ev, err = m.Resume(&st, inc(ev.Params))
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind != Done || ev.Params["n"] != 4.0 {
			t.Errorf("ended with %v %v", ev.Kind, ev.Params)
		}
		if !reflect.DeepEqual(seen, want) {
			t.Errorf("run %d: job events\n got %v\nwant %v", run, seen, want)
		}
		if jobs := m.Program().Jobs; len(jobs) != 2 || jobs[1].Step != "job:"+want[1].path {
			t.Errorf("jobs %v", jobs)
		}
	}
}

func TestRunsShareNothing(t *testing.T) {
	root := let(map[string]any{"c": map[string]any{"k": 0.0}},
		seq(set("c", "{k: c.k + 1}"), act("a"), value(map[string]any{"v": []any{1.0}}), act("a"), fn("{k: c.k, v: params.v}")))
	m := load(t, root)
	for run := 0; run < 2; run++ {
		var st State
		var got []string
		ev, err := m.Start(&st, obj("n", 1))
		for err == nil && ev.Kind == Call {
			data, _ := json.Marshal(ev.Params)
			got = append(got, string(data))
			// An action that changes what it was given in place, as a
			// careless caller could: the program's value and the let's
			// initial one must not follow.
			p := ev.Params
			p["junk"] = true
			if v, ok := p["v"].([]any); ok {
				v[0] = 99.0
			}
			ev, err = m.Resume(&st, p)
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{`{"n":1}`, `{"v":[1]}`}; !reflect.DeepEqual(got, want) {
			t.Errorf("run %d: the actions got %v, want %v", run, got, want)
		}
		if want := obj("k", 1, "v", []any{99.0}); !reflect.DeepEqual(ev.Params, want) {
			t.Errorf("run %d: %v, want %v", run, ev.Params, want)
		}
	}
}

func TestStateIsCopiedOnWrite(t *testing.T) {
	m := load(t, let(map[string]any{"x": 1.0}, seq(act("a"), set("x", "2"), act("b"))))
	var st State
	if _, err := m.Start(&st, obj()); err != nil {
		t.Fatal(err)
	}
	saved := st // a shallow copy, as a caller might keep
	if _, err := m.Resume(&st, obj()); err != nil {
		t.Fatal(err)
	}
	if saved.Stack[0].Let["x"] != 1.0 || st.Stack[0].Let["x"] != 2.0 {
		t.Errorf("saved %v, now %v", saved.Stack, st.Stack)
	}
}

func TestTransitionBound(t *testing.T) {
	m := load(t, nosave(while(policies.KindWhile, fn("{value: true}"), fn("params"))))
	var st State
	_, err := m.Start(&st, obj())
	if err == nil || !strings.Contains(err.Error(), "10000 transitions") {
		t.Errorf("error %v, want the transition bound", err)
	}
	// The bound is per Start or Resume: a long loop that calls out is fine.
	m = load(t, times(policies.KindRepeat, 2000, act("inc")))
	got, calls := runAll(t, m, obj("n", 0), actions{"inc": inc})
	if got["n"] != 2000.0 || len(calls) != 2000 {
		t.Errorf("got %v after %d calls", got, len(calls))
	}
}

func TestInternalErrors(t *testing.T) {
	m := load(t, let(map[string]any{"x": 1.0}, act("a")))
	n := len(m.Program().Instrs)
	for _, pc := range []int{-1, n + 1} {
		st := State{PC: pc}
		if _, err := m.Resume(&st, obj()); err == nil || !strings.Contains(err.Error(), "outside") {
			t.Errorf("pc %d: error %v", pc, err)
		}
	}
	// The end is a place to resume at: the result is the final value.
	st := State{PC: n}
	if ev, err := m.Resume(&st, obj("r", 1)); err != nil || ev.Kind != Done || ev.Params["r"] != 1.0 {
		t.Errorf("resume at the end: %v %v", ev, err)
	}
	// A state that lost its let frame exits from an empty stack.
	st = State{}
	if _, err := m.Start(&st, obj()); err != nil {
		t.Fatal(err)
	}
	st.Stack = nil
	if _, err := m.Resume(&st, obj()); err == nil || !strings.Contains(err.Error(), "empty stack") {
		t.Errorf("error %v, want an exit from an empty stack", err)
	}
	catch := n + 5
	st = State{PC: 1, Stack: []Frame{{Catch: &catch}}}
	if _, err := m.Resume(&st, obj()); err == nil || !strings.Contains(err.Error(), "handler") {
		t.Errorf("error %v, want a bad handler", err)
	}
	// A builtin whose variable is gone.
	m = load(t, body(policies.KindRetain, act("a")))
	st = State{}
	if _, err := m.Start(&st, obj()); err != nil {
		t.Fatal(err)
	}
	st.Stack = []Frame{{Let: map[string]any{}}, {Let: map[string]any{}}}
	if _, err := m.Resume(&st, obj()); err == nil || !strings.Contains(err.Error(), "$params is not bound") {
		t.Errorf("error %v, want an unbound variable", err)
	}
}

func TestFrameJSON(t *testing.T) {
	c := 7
	st := State{PC: 3, Stack: []Frame{{Mask: true}, {Let: map[string]any{}}, {Catch: &c}, {Let: map[string]any{"x": 1.0}}}, Visits: map[int]int{0: 2}}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"pc":3,"stack":[{"mask":true},{"let":{}},{"catch":7},{"let":{"x":1}}],"visits":{"0":2}}`
	if string(data) != want {
		t.Errorf("%s\nwant %s", data, want)
	}
	if back := stateTrip(t, st); !reflect.DeepEqual(back, st) {
		t.Errorf("round trip %+v, want %+v", back, st)
	}
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		name string
		root *policies.Node
		want string
	}{
		{"unknown variable", let(map[string]any{"x": 1.0}, fn("y + 1")), "unknown name y"},
		{"a variable out of scope", seq(let(map[string]any{"x": 1.0}, act("a")), fn("x")), "unknown name x"},
		{"a masked variable", let(map[string]any{"x": 1.0}, mask(fn("x"))), "unknown name x"},
		{"set of a masked variable", let(map[string]any{"y": 1.0}, mask(set("y", "2"))), "set y: no such variable"},
		{"set of an undeclared variable", set("z", "1"), "set z: no such variable"},
		{"a bad set expression", let(map[string]any{"y": 1.0}, set("y", "y +")), "set y = "},
		{"an internal variable", ifn(fn("$params"), act("a"), nil), "unknown name $params"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Lower(label(tt.root, "composition"), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "program: composition") {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
	crafted := []struct {
		name string
		p    *Program
		want string
	}{
		{"exit with no frame", &Program{Instrs: []Instr{{Op: OpExit}}}, "no frame"},
		{"builtin variable not bound", &Program{Instrs: []Instr{{Op: OpBuiltin, Builtin: "load", Var: "$params"}}}, "not bound"},
		{"a let of params", &Program{Instrs: []Instr{{Op: OpLet, Let: map[string]any{"params": 1.0}}, {Op: OpExit}}}, `"params"`},
	}
	for _, tt := range crafted {
		if _, err := Load(tt.p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{Call: "call", RunJob: "run-job", Done: "done", 0: "EventKind(0)"} {
		if k.String() != want {
			t.Errorf("%d: %s", int(k), k)
		}
	}
}

// TestSharedMachine: one Machine serves concurrent runs (go test -race).
func TestSharedMachine(t *testing.T) {
	m := load(t, let(map[string]any{"i": 0.0}, while(policies.KindWhile, fn("i < 50"), seq(set("i", "i + 1"), act("inc")))))
	for _, got := range concurrentRuns(m, 8) {
		if got["n"] != 50.0 {
			t.Errorf("a run ended with %v", got)
		}
	}
}

// concurrentRuns runs one Machine n times at once from {n: 0}, answering
// every call with inc, and returns each run's final value.
func concurrentRuns(m *Machine, n int) []map[string]any {
	done := make(chan map[string]any)
	for range n {
		go func() {
			var st State
			ev, err := m.Start(&st, obj("n", 0))
			for err == nil && ev.Kind == Call {
				ev, err = m.Resume(&st, inc(ev.Params))
			}
			if err != nil {
				ev.Params = obj("error", err.Error())
			}
			done <- ev.Params
		}()
	}
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = <-done
	}
	return out
}
