package program

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/wskx/wskx/policies"
)

// Tree builders. label gives the nodes paths the way a workflow file
// would, so that expected error messages can name them.

func act(name string) *policies.Node {
	return &policies.Node{Kind: policies.KindAction, Action: name}
}

func fn(src string) *policies.Node { return &policies.Node{Kind: policies.KindFunction, Expr: src} }

func seq(ns ...*policies.Node) *policies.Node {
	return &policies.Node{Kind: policies.KindSequence, Components: ns}
}

func set(pairs ...string) *policies.Node {
	n := &policies.Node{Kind: policies.KindSet}
	for i := 0; i+1 < len(pairs); i += 2 {
		n.Set = append(n.Set, policies.Assign{Var: pairs[i], Expr: pairs[i+1]})
	}
	return n
}

func let(vars map[string]any, body ...*policies.Node) *policies.Node {
	return &policies.Node{Kind: policies.KindLet, Vars: vars, Body: task(body)}
}

func mask(body ...*policies.Node) *policies.Node {
	return &policies.Node{Kind: policies.KindMask, Body: task(body)}
}

func body(kind policies.Kind, b ...*policies.Node) *policies.Node {
	return &policies.Node{Kind: kind, Body: task(b)}
}

func times(kind policies.Kind, n int, b ...*policies.Node) *policies.Node {
	return &policies.Node{Kind: kind, Times: n, Body: task(b)}
}

func ifn(test, then, els *policies.Node) *policies.Node {
	return &policies.Node{Kind: policies.KindIf, Test: test, Then: then, Else: els}
}

func while(kind policies.Kind, test, b *policies.Node) *policies.Node {
	return &policies.Node{Kind: kind, Test: test, Body: b}
}

func nosave(n *policies.Node) *policies.Node { n.Nosave = true; return n }

func try(b, handler *policies.Node) *policies.Node {
	return &policies.Node{Kind: policies.KindTry, Body: b, Handler: handler}
}

func finally(b, handler *policies.Node) *policies.Node {
	return &policies.Node{Kind: policies.KindFinally, Body: b, Handler: handler}
}

func value(v any) *policies.Node { return &policies.Node{Kind: policies.KindValue, Value: v} }

func jobNode() *policies.Node { return &policies.Node{Kind: policies.KindJob} }

func dynamic() *policies.Node { return &policies.Node{Kind: policies.KindDynamic} }

// task is what composer makes of a component list given as a body: a
// lone component stands for itself, several for their sequence.
func task(ns []*policies.Node) *policies.Node {
	if len(ns) == 1 {
		return ns[0]
	}
	return seq(ns...)
}

func label(n *policies.Node, path string) *policies.Node {
	if n == nil {
		return nil
	}
	n.Path = path
	for i, c := range n.Components {
		label(c, fmt.Sprintf("%s.%s[%d]", path, n.Kind, i))
	}
	label(n.Test, path+".test")
	label(n.Then, path+".then")
	label(n.Else, path+".else")
	label(n.Body, path+".do")
	label(n.Handler, path+".handler")
	return n
}

// load lowers and loads a tree, job nodes running the step "job:PATH".
func load(t *testing.T, root *policies.Node) *Machine {
	t.Helper()
	p, err := Lower(label(root, "composition"), func(n *policies.Node) (string, json.RawMessage) {
		return "job:" + n.Path, json.RawMessage(`{"job":{}}`)
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type actions map[string]func(map[string]any) map[string]any

// runAll drives a run to its end, answering every call from the table
// (jobs by their step name), and returns the final value and what was
// called, in order.
func runAll(t *testing.T, m *Machine, input map[string]any, acts actions) (map[string]any, []string) {
	t.Helper()
	var st State
	ev, err := m.Start(&st, input)
	var calls []string
	return drive(t, m, &st, ev, err, acts, &calls), calls
}

// drive answers a run's events to its end: calls from the table, forks by
// running each branch to its end in turn (an async branch's activation id
// is "async-N").
func drive(t *testing.T, m *Machine, st *State, ev Event, err error, acts actions, calls *[]string) map[string]any {
	t.Helper()
	for {
		if err != nil {
			t.Fatalf("after %v: %v", *calls, err)
		}
		name := ev.Action
		switch ev.Kind {
		case Done:
			return ev.Params
		case RunJob:
			name = m.Program().Jobs[ev.Job].Step
		case Fork:
			var results []any
			for _, b := range ev.Branches {
				bst := stateTrip(t, b.State)
				bev, berr := m.Enter(&bst, roundTrip(t, b.Params))
				results = append(results, drive(t, m, &bst, bev, berr, acts, calls))
			}
			*st = stateTrip(t, *st)
			if ev.Async {
				*calls = append(*calls, "async")
				ev, err = m.Resume(st, map[string]any{"method": "async", "activationId": fmt.Sprintf("async-%d", len(*calls))})
			} else {
				ev, err = m.Resume(st, map[string]any{"value": results})
			}
			continue
		}
		if len(*calls) > 10000 {
			t.Fatalf("more than 10000 calls: %v", (*calls)[:20])
		}
		*calls = append(*calls, name)
		f, ok := acts[name]
		if !ok {
			t.Fatalf("call of %q, which the table lacks (calls %v)", name, *calls)
		}
		// A real action gets its input as JSON, so it cannot reach the
		// machine's maps; a round trip here keeps the fakes honest. The
		// state goes through JSON too, as a conductor persists it.
		result := f(roundTrip(t, ev.Params))
		*st = stateTrip(t, *st)
		ev, err = m.Resume(st, result)
	}
}

func roundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func stateTrip(t *testing.T, st State) State {
	t.Helper()
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out State
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// runCase is one run of a tree against a fake action table.
type runCase struct {
	name  string
	root  *policies.Node
	input map[string]any
	acts  actions
	want  map[string]any
	calls []string
}

func runCases(t *testing.T, cases []runCase) {
	t.Helper()
	runCasesWith(t, cases, load)
}

// runCasesWith is runCases with the trees loaded by load.
func runCasesWith(t *testing.T, cases []runCase, load func(*testing.T, *policies.Node) *Machine) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, tc.root)
			input := roundTrip(t, tc.input)
			before := roundTrip(t, input)
			prog, err := Encode(m.Program())
			if err != nil {
				t.Fatal(err)
			}
			got, calls := runAll(t, m, input, tc.acts)
			if again, _ := Encode(m.Program()); string(again) != string(prog) {
				t.Errorf("the run changed the program")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("final value\n got %v\nwant %v", got, tc.want)
			}
			if !reflect.DeepEqual(calls, tc.calls) && (len(calls) > 0 || len(tc.calls) > 0) {
				t.Errorf("calls\n got %v\nwant %v", calls, tc.calls)
			}
			if !reflect.DeepEqual(input, before) {
				t.Errorf("the input changed: %v, was %v", input, before)
			}
		})
	}
}

// obj builds a JSON object from key, value pairs; numbers may be given
// as ints.
func obj(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		v, err := normalize(kv[i+1])
		if err != nil {
			panic(err)
		}
		m[kv[i].(string)] = v
	}
	return m
}

// Common fakes.
var (
	inc = func(p map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range p {
			out[k] = v
		}
		n, _ := p["n"].(float64)
		out["n"] = n + 1
		return out
	}
	dec = func(p map[string]any) map[string]any {
		out := inc(p)
		out["n"] = out["n"].(float64) - 2
		return out
	}
	echo = func(p map[string]any) map[string]any { return p }
	fail = func(msg string) func(map[string]any) map[string]any {
		return func(map[string]any) map[string]any { return obj("error", msg, "detail", 1) }
	}
	answer = func(v map[string]any) func(map[string]any) map[string]any {
		return func(map[string]any) map[string]any { return v }
	}
)
