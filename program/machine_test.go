package program

import (
	"testing"

	"github.com/wskx/wskx/policies"
)

// The expected values below are what openwhisk-composer 0.12's conductor
// gives for the same composition and action results (worked out from
// conductor.js, several checked by running it).

func TestSequence(t *testing.T) {
	runCases(t, []runCase{
		{name: "chains results", root: seq(act("inc"), act("inc")), input: obj("n", 1),
			acts: actions{"inc": inc}, want: obj("n", 3), calls: []string{"inc", "inc"}},
		{name: "an error skips the rest and keeps only the error field", root: seq(act("inc"), act("fail"), act("inc")), input: obj("n", 1),
			acts: actions{"inc": inc, "fail": fail("boom")}, want: obj("error", "boom"), calls: []string{"inc", "fail"}},
		{name: "empty passes the input", root: seq(), input: obj("n", 1), want: obj("n", 1)},
		{name: "empty node", root: &policies.Node{Kind: policies.KindEmpty}, input: obj("n", 1), want: obj("n", 1)},
		{name: "a result that is null stays an error", root: seq(act("nullerr"), act("inc")), input: obj("n", 1),
			acts: actions{"inc": inc, "nullerr": answer(obj("error", nil, "x", 1))}, want: obj("error", nil), calls: []string{"nullerr"}},
		{name: "action constants lie under the input", input: obj("n", 5),
			root: &policies.Node{Kind: policies.KindAction, Action: "echo", Params: obj("n", 0, "k", "v")},
			acts: actions{"echo": echo}, want: obj("n", 5, "k", "v"), calls: []string{"echo"}},
		// As conductor.js: the invocation's own parameters are not inspected,
		// only components' results are.
		{name: "an error in the input is data", root: act("echo"), input: obj("error", "given", "n", 1),
			acts: actions{"echo": echo}, want: obj("error", "given"), calls: []string{"echo"}},
	})
}

func TestTry(t *testing.T) {
	runCases(t, []runCase{
		{name: "the handler gets the error", root: try(seq(act("inc"), act("fail"), act("inc")), fn("{caught: params.error}")),
			input: obj("n", 1), acts: actions{"inc": inc, "fail": fail("boom")}, want: obj("caught", "boom"), calls: []string{"inc", "fail"}},
		{name: "no error, no handler", root: try(act("inc"), act("never")),
			input: obj("n", 1), acts: actions{"inc": inc}, want: obj("n", 2), calls: []string{"inc"}},
		{name: "an error in the handler goes on up", root: try(act("fail"), act("fail2")),
			input: obj("n", 1), acts: actions{"fail": fail("boom"), "fail2": fail("again")}, want: obj("error", "again"), calls: []string{"fail", "fail2"}},
		{name: "nested: the outer catches the inner handler's error", root: try(try(act("fail"), act("fail2")), fn("{outer: params.error}")),
			input: obj(), acts: actions{"fail": fail("boom"), "fail2": fail("again")}, want: obj("outer", "again"), calls: []string{"fail", "fail2"}},
		{name: "after the try the handler is gone", root: seq(try(act("inc"), act("never")), act("fail")),
			input: obj("n", 1), acts: actions{"inc": inc, "fail": fail("late")}, want: obj("error", "late"), calls: []string{"inc", "fail"}},
	})
}

func TestFinally(t *testing.T) {
	runCases(t, []runCase{
		{name: "runs after success", root: finally(act("inc"), fn("{n: params.n, done: true}")),
			input: obj("n", 1), acts: actions{"inc": inc}, want: obj("n", 2, "done", true), calls: []string{"inc"}},
		{name: "runs after an error, and its result is the result", root: finally(act("fail"), fn("{saw: params.error}")),
			input: obj("n", 1), acts: actions{"fail": fail("boom")}, want: obj("saw", "boom"), calls: []string{"fail"}},
		{name: "a finalizer that passes the error on fails", root: seq(finally(act("fail"), act("echo")), act("never")),
			input: obj("n", 1), acts: actions{"fail": fail("boom"), "echo": echo}, want: obj("error", "boom"), calls: []string{"fail", "echo"}},
	})
}

func TestIf(t *testing.T) {
	probe := answer(obj("value", true, "junk", 1))
	runCases(t, []runCase{
		{name: "then gets the input from before the test", root: ifn(fn("params.n > 0"), act("inc"), act("dec")),
			input: obj("n", 1), acts: actions{"inc": inc, "dec": dec}, want: obj("n", 2), calls: []string{"inc"}},
		{name: "else", root: ifn(fn("params.n > 0"), act("inc"), act("dec")),
			input: obj("n", -1), acts: actions{"inc": inc, "dec": dec}, want: obj("n", -2), calls: []string{"dec"}},
		{name: "the test's result is dropped", root: ifn(act("probe"), act("echo"), nil),
			input: obj("n", 1), acts: actions{"probe": probe, "echo": echo}, want: obj("n", 1), calls: []string{"probe", "echo"}},
		{name: "nosave: the branch gets the test's result", root: nosave(ifn(act("probe"), act("echo"), nil)),
			input: obj("n", 1), acts: actions{"probe": probe, "echo": echo}, want: obj("value", true, "junk", 1), calls: []string{"probe", "echo"}},
		{name: "no else: the input", root: ifn(fn("params.n > 0"), act("inc"), nil),
			input: obj("n", -1), acts: actions{"inc": inc}, want: obj("n", -1)},
		{name: "nosave, no else: the test's value", root: nosave(ifn(fn("params.n > 0"), act("inc"), nil)),
			input: obj("n", -1), acts: actions{"inc": inc}, want: obj("value", false)},
		{name: "a failed test runs neither branch", root: ifn(act("fail"), act("inc"), act("dec")),
			input: obj("n", 1), acts: actions{"fail": fail("boom")}, want: obj("error", "boom"), calls: []string{"fail"}},
		{name: "truthy like JavaScript: 1", root: ifn(fn("1"), act("inc"), act("dec")),
			input: obj("n", 1), acts: actions{"inc": inc, "dec": dec}, want: obj("n", 2), calls: []string{"inc"}},
		{name: "truthy like JavaScript: the string false", root: ifn(fn(`"false"`), act("inc"), act("dec")),
			input: obj("n", 1), acts: actions{"inc": inc, "dec": dec}, want: obj("n", 2), calls: []string{"inc"}},
		{name: "falsy like JavaScript: 0 and the empty string", root: seq(ifn(fn("0"), act("inc"), act("dec")), ifn(fn(`""`), act("inc"), act("dec"))),
			input: obj("n", 1), acts: actions{"inc": inc, "dec": dec}, want: obj("n", -1), calls: []string{"dec", "dec"}},
		{name: "an error in a branch propagates", root: seq(ifn(fn("true"), act("fail"), nil), act("never")),
			input: obj(), acts: actions{"fail": fail("boom")}, want: obj("error", "boom"), calls: []string{"fail"}},
	})
}

func TestWhile(t *testing.T) {
	// testSave is while_nosave's test from composer's documentation: the
	// value and the verdict in one object.
	testSave := fn("{n: params.n, value: params.n < 3}")
	runCases(t, []runCase{
		{name: "while", root: while(policies.KindWhile, fn("params.n < 3"), act("inc")),
			input: obj("n", 0), acts: actions{"inc": inc}, want: obj("n", 3), calls: []string{"inc", "inc", "inc"}},
		{name: "while false at once", root: while(policies.KindWhile, fn("params.n < 3"), act("inc")),
			input: obj("n", 7), acts: actions{"inc": inc}, want: obj("n", 7)},
		{name: "while nosave ends with the last test's result", root: nosave(while(policies.KindWhile, testSave, act("inc"))),
			input: obj("n", 0), acts: actions{"inc": inc}, want: obj("n", 3, "value", false), calls: []string{"inc", "inc", "inc"}},
		{name: "an error in the body ends the loop", root: while(policies.KindWhile, fn("true"), seq(act("inc"), act("failAt2"))),
			input: obj("n", 0), acts: actions{"inc": inc, "failAt2": func(p map[string]any) map[string]any {
				if p["n"] == 2.0 {
					return obj("error", "two")
				}
				return p
			}}, want: obj("error", "two"), calls: []string{"inc", "failAt2", "inc", "failAt2"}},
		{name: "dowhile runs the body once", root: while(policies.KindDoWhile, fn("params.n < 0"), act("inc")),
			input: obj("n", 5), acts: actions{"inc": inc}, want: obj("n", 6), calls: []string{"inc"}},
		{name: "dowhile", root: while(policies.KindDoWhile, fn("params.n < 3"), act("inc")),
			input: obj("n", 0), acts: actions{"inc": inc}, want: obj("n", 3), calls: []string{"inc", "inc", "inc"}},
		{name: "dowhile nosave", root: nosave(while(policies.KindDoWhile, testSave, act("inc"))),
			input: obj("n", 0), acts: actions{"inc": inc}, want: obj("n", 3, "value", false), calls: []string{"inc", "inc", "inc"}},
		{name: "dowhile's test result is dropped", root: while(policies.KindDoWhile, act("probe"), act("inc")),
			input: obj("n", 0), acts: actions{"inc": inc, "probe": func(p map[string]any) map[string]any {
				return obj("value", p["n"].(float64) < 2, "junk", 1)
			}}, want: obj("n", 2), calls: []string{"inc", "probe", "inc", "probe"}},
	})
}

func TestNestedLoops(t *testing.T) {
	// Two counters in one let; the inner loop resets j each outer turn.
	// The loops' own frames are masked, so tests and sets see i, j and
	// total through them.
	inner := while(policies.KindWhile, fn("j < 3"), seq(set("total", "total + 1", "j", "j + 1"), act("tick")))
	outer := while(policies.KindWhile, fn("i < 2"), seq(set("j", "0"), inner, set("i", "i + 1")))
	root := let(map[string]any{"i": 0.0, "j": 0.0, "total": 0.0}, seq(outer, fn("{i: i, j: j, total: total, n: params.n}")))
	runCases(t, []runCase{
		{name: "while in while", root: root, input: obj("n", 0), acts: actions{"tick": inc},
			want:  obj("i", 2, "j", 3, "total", 6, "n", 6),
			calls: []string{"tick", "tick", "tick", "tick", "tick", "tick"}},
		{name: "repeat in repeat", root: let(map[string]any{"k": 0.0},
			seq(times(policies.KindRepeat, 3, times(policies.KindRepeat, 4, set("k", "k + 1"))), fn("{k: k}"))),
			input: obj(), want: obj("k", 12)},
	})
}

func TestRepeat(t *testing.T) {
	runCases(t, []runCase{
		{name: "three times", root: times(policies.KindRepeat, 3, act("inc")),
			input: obj("n", 0), acts: actions{"inc": inc}, want: obj("n", 3), calls: []string{"inc", "inc", "inc"}},
		{name: "zero times", root: times(policies.KindRepeat, 0, act("inc")),
			input: obj("n", 0), want: obj("n", 0)},
		{name: "an error stops it", root: times(policies.KindRepeat, 3, act("fail")),
			input: obj("n", 0), acts: actions{"fail": fail("boom")}, want: obj("error", "boom"), calls: []string{"fail"}},
	})
}

func TestRetry(t *testing.T) {
	// flaky fails its first k calls and records its inputs.
	flaky := func(k int, inputs *[]map[string]any) func(map[string]any) map[string]any {
		return func(p map[string]any) map[string]any {
			*inputs = append(*inputs, p)
			if len(*inputs) <= k {
				return obj("error", "try again", "attempt", len(*inputs))
			}
			return obj("ok", true, "n", p["n"])
		}
	}
	var later, never, first []map[string]any
	runCases(t, []runCase{
		{name: "succeeds on the third attempt", root: times(policies.KindRetry, 2, seq(act("inc"), act("flaky"))),
			input: obj("n", 1), acts: actions{"inc": inc, "flaky": flaky(2, &later)},
			want: obj("ok", true, "n", 2), calls: []string{"inc", "flaky", "inc", "flaky", "inc", "flaky"}},
		{name: "gives up after its retries with the last error", root: times(policies.KindRetry, 2, act("flaky")),
			input: obj("n", 1), acts: actions{"flaky": flaky(99, &never)},
			want: obj("error", "try again"), calls: []string{"flaky", "flaky", "flaky"}},
		{name: "no retries", root: times(policies.KindRetry, 0, act("fail")),
			input: obj("n", 1), acts: actions{"fail": fail("boom")}, want: obj("error", "boom"), calls: []string{"fail"}},
		{name: "success at once", root: times(policies.KindRetry, 5, act("flaky")),
			input: obj("n", 1), acts: actions{"flaky": flaky(0, &first)}, want: obj("ok", true, "n", 1), calls: []string{"flaky"}},
		{name: "an error after retry is caught outside", root: try(times(policies.KindRetry, 1, act("fail")), fn("{caught: params.error}")),
			input: obj(), acts: actions{"fail": fail("boom")}, want: obj("caught", "boom"), calls: []string{"fail", "fail"}},
	})
	// Every attempt starts from retry's own input.
	for _, in := range later {
		if in["n"] != 2.0 || len(in) != 1 {
			t.Errorf("an attempt got %v, want {n: 2}", in)
		}
	}
	for _, in := range never {
		if in["n"] != 1.0 || len(in) != 1 {
			t.Errorf("an attempt got %v, want {n: 1}", in)
		}
	}
}

func TestLet(t *testing.T) {
	x := func(v float64) map[string]any { return map[string]any{"x": v} }
	runCases(t, []runCase{
		{name: "a variable", root: let(x(1), fn("{x: x}")), input: obj(), want: obj("x", 1)},
		{name: "shadowing", root: let(x(1), seq(let(x(2), fn("{inner: x}")), fn("{outer: x, inner: params.inner}"))),
			input: obj(), want: obj("outer", 1, "inner", 2)},
		{name: "set assigns the innermost binding", root: let(x(1), seq(let(x(2), seq(set("x", "10"), fn("{inner: x}"))), fn("{outer: x, inner: params.inner}"))),
			input: obj(), want: obj("outer", 1, "inner", 10)},
		{name: "a set under a mask assigns the binding the mask leaves visible", root: let(x(1), seq(let(x(2), seq(mask(set("x", "5")), fn("{inner: x}"))), fn("{outer: x, inner: params.inner}"))),
			input: obj(), want: obj("outer", 5, "inner", 2)},
		{name: "later assignments see earlier ones", root: let(map[string]any{"a": 0.0, "b": 0.0}, seq(set("a", "1", "b", "a + 1"), fn("{a: a, b: b}"))),
			input: obj(), want: obj("a", 1, "b", 2)},
		{name: "set passes the value through", root: let(x(1), seq(set("x", "params.n"), fn("{x: x, n: params.n}"))),
			input: obj("n", 4), want: obj("x", 4, "n", 4)},
		{name: "values are JSON: objects copied, ints floats", root: let(map[string]any{"o": map[string]any{"k": 1.0}}, seq(set("o", "{k: o.k + 1, l: [1, 2]}"), fn("o"))),
			input: obj(), want: obj("k", 2, "l", []any{1.0, 2.0})},
		{name: "a failing set is an error value", root: let(x(1), seq(set("x", "params.a.b"), act("never"))),
			input: obj(), want: obj("error", "set x at composition.do.sequence[0] failed: cannot fetch b from <nil> (1:10)")},
		{name: "an empty let still takes a mask's place", root: let(x(1), let(nil, mask(seq(act("inc"), fn("{x: x}"))))),
			input: obj(), acts: actions{"inc": inc}, want: obj("x", 1), calls: []string{"inc"}},
		{name: "each run starts from the let's initial values", root: let(map[string]any{"c": map[string]any{"k": 0.0}}, seq(set("c", "{k: c.k + 1}"), act("inc"), fn("c"))),
			input: obj(), acts: actions{"inc": inc}, want: obj("k", 1), calls: []string{"inc"}},
	})
}

func TestMask(t *testing.T) {
	x := func(v float64) map[string]any { return map[string]any{"x": v} }
	runCases(t, []runCase{
		{name: "hides the innermost let", root: let(x(1), let(x(2), mask(fn("{x: x}")))), input: obj(), want: obj("x", 1)},
		{name: "two masks hide two lets", root: let(x(1), let(x(2), let(x(3), mask(mask(fn("{x: x}")))))), input: obj(), want: obj("x", 1)},
		{name: "a let inside a mask is visible", root: let(x(1), mask(let(x(7), fn("{x: x}")))), input: obj(), want: obj("x", 7)},
		{name: "a mask passes the value", root: mask(act("inc")), input: obj("n", 1), acts: actions{"inc": inc}, want: obj("n", 2), calls: []string{"inc"}},
	})
}

func TestRetain(t *testing.T) {
	runCases(t, []runCase{
		{name: "retain", root: body(policies.KindRetain, act("inc")), input: obj("n", 1), acts: actions{"inc": inc},
			want: obj("params", obj("n", 1), "result", obj("n", 2)), calls: []string{"inc"}},
		{name: "retain loses the input on an error", root: body(policies.KindRetain, act("fail")), input: obj("n", 1), acts: actions{"fail": fail("boom")},
			want: obj("error", "boom"), calls: []string{"fail"}},
		{name: "retain_catch", root: body(policies.KindRetainCatch, act("inc")), input: obj("n", 1), acts: actions{"inc": inc},
			want: obj("params", obj("n", 1), "result", obj("n", 2)), calls: []string{"inc"}},
		{name: "retain_catch keeps the input and the error", root: body(policies.KindRetainCatch, act("fail")), input: obj("n", 1), acts: actions{"fail": fail("boom")},
			want: obj("params", obj("n", 1), "result", obj("error", "boom")), calls: []string{"fail"}},
		{name: "retain sees the user's variables", root: let(map[string]any{"x": 3.0}, body(policies.KindRetain, fn("{x: x}"))), input: obj("n", 1),
			want: obj("params", obj("n", 1), "result", obj("x", 3))},
	})
}

func TestMerge(t *testing.T) {
	runCases(t, []runCase{
		{name: "the result over the input", root: body(policies.KindMerge, act("a")), input: obj("n", 1, "k", 2),
			acts: actions{"a": answer(obj("m", 5, "n", 9))}, want: obj("n", 9, "k", 2, "m", 5), calls: []string{"a"}},
		{name: "an error", root: body(policies.KindMerge, act("fail")), input: obj("n", 1),
			acts: actions{"fail": fail("boom")}, want: obj("error", "boom"), calls: []string{"fail"}},
	})
}

func TestValue(t *testing.T) {
	runCases(t, []runCase{
		{name: "an object", root: seq(act("inc"), value(map[string]any{"a": []any{1.0, 2.0}})), input: obj("n", 1),
			acts: actions{"inc": inc}, want: obj("a", []any{1.0, 2.0}), calls: []string{"inc"}},
		{name: "a number is wrapped", root: value(5.0), input: obj(), want: obj("value", 5)},
		{name: "null is wrapped", root: value(nil), input: obj(), want: obj("value", nil)},
		{name: "an error field makes it an error", root: seq(value(map[string]any{"error": "bad", "x": 1.0}), act("never")), input: obj(),
			want: obj("error", "bad")},
		{name: "which try catches", root: try(value(map[string]any{"error": "bad"}), fn("{caught: params.error}")), input: obj(),
			want: obj("caught", "bad")},
	})
}

func TestDynamic(t *testing.T) {
	runCases(t, []runCase{
		{name: "calls the named action", root: seq(fn(`{type: "action", name: "inc", params: {n: params.n * 10}}`), dynamic(), act("inc")),
			input: obj("n", 1), acts: actions{"inc": inc}, want: obj("n", 12), calls: []string{"inc", "inc"}},
		{name: "no name", root: seq(fn(`{type: "action", name: 5, params: {}}`), dynamic()),
			input: obj(), want: obj("error", "Incorrect use of the dynamic combinator at composition.sequence[1]")},
		{name: "not an action", root: seq(fn(`{type: "sequence", name: "a", params: {}}`), dynamic()),
			input: obj(), want: obj("error", "Incorrect use of the dynamic combinator at composition.sequence[1]")},
		{name: "params not an object", root: seq(fn(`{type: "action", name: "a", params: [1]}`), dynamic()),
			input: obj(), want: obj("error", "Incorrect use of the dynamic combinator at composition.sequence[1]")},
		{name: "the error is caught", root: try(dynamic(), fn("{caught: true}")), input: obj(), want: obj("caught", true)},
	})
}

func TestFunction(t *testing.T) {
	runCases(t, []runCase{
		{name: "an object", root: fn("{product: params.x * params.y}"), input: obj("x", 3, "y", 4), want: obj("product", 12)},
		{name: "a bool is wrapped", root: fn("params.n > 0"), input: obj("n", 1), want: obj("value", true)},
		{name: "a string is wrapped", root: fn(`"hi"`), input: obj(), want: obj("value", "hi")},
		{name: "a list is wrapped, its ints floats", root: fn("[1, 2]"), input: obj(), want: obj("value", []any{1.0, 2.0})},
		{name: "nil is wrapped", root: fn("nil"), input: obj(), want: obj("value", nil)},
		{name: "params itself", root: fn("params"), input: obj("n", 1), want: obj("n", 1)},
		{name: "NaN and infinity become null as in JSON.stringify", root: fn("{inf: 1 / 0}"), input: obj(), want: obj("inf", nil)},
		{name: "an error field is an error", root: seq(fn(`{error: "no", x: 1}`), act("never")), input: obj(), want: obj("error", "no")},
		{name: "a runtime error", root: seq(act("inc"), fn("params.a[5]")), input: obj("n", 1, "a", []any{}), acts: actions{"inc": inc},
			want:  obj("error", "function at composition.sequence[1] failed: index out of range: 5 (array length is 0) (1:9)"),
			calls: []string{"inc"}},
		{name: "a runtime error is caught", root: try(fn("params.a.b"), fn("{caught: params.error != nil}")), input: obj(), want: obj("caught", true)},
	})
}
