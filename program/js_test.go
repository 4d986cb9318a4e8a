package program

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/policies"
)

// JavaScript functions, as an imported openwhisk-composer composition
// has them. The expected values are what composer 0.12's conductor gives
// for the same composition (run in node, the compositions written with
// composer's combinators and an explicit seq wherever a Go body holds
// several nodes), except where a case says it differs.

func js(src string) *policies.Node { return &policies.Node{Kind: policies.KindFunction, JS: src} }

// composerLabel gives the nodes composer's paths, as an imported
// composition carries them: "" for the root, [i] for components,
// .test, .consequent, .alternate, .body, .handler, .finalizer. Error
// values then read as composer's ("at AST node root[1]").
func composerLabel(n *policies.Node, path string) *policies.Node {
	if n == nil {
		return nil
	}
	n.Path = path
	for i, c := range n.Components {
		composerLabel(c, fmt.Sprintf("%s[%d]", path, i))
	}
	composerLabel(n.Test, path+".test")
	composerLabel(n.Then, path+".consequent")
	composerLabel(n.Else, path+".alternate")
	switch n.Kind {
	case policies.KindWhile, policies.KindDoWhile, policies.KindTry, policies.KindFinally:
		composerLabel(n.Body, path+".body")
	default:
		// let, mask, retain...: a list of components, here one.
		composerLabel(n.Body, path+"[0]")
	}
	if n.Kind == policies.KindFinally {
		composerLabel(n.Handler, path+".finalizer")
	} else {
		composerLabel(n.Handler, path+".handler")
	}
	return n
}

// loadComposer lowers and loads a tree labelled as composer labels it.
func loadComposer(opts ...Option) func(*testing.T, *policies.Node) *Machine {
	return func(t *testing.T, root *policies.Node) *Machine {
		t.Helper()
		p, err := Lower(composerLabel(root, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Load(p, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}

func threw(path string) map[string]any {
	return obj("error", "Function combinator threw an exception at AST node root"+path+" (see log for details)")
}

func TestJSFunction(t *testing.T) {
	vars := func(kv ...any) map[string]any { return obj(kv...) }
	runCasesWith(t, []runCase{
		{name: "an arrow function", root: js(`params => ({ value: params.value + 1 })`),
			input: obj("value", 1), want: obj("value", 2)},
		{name: "a classic function", root: js(`function (p) { return { n: p.n * 2 } }`),
			input: obj("n", 3), want: obj("n", 6)},
		{name: "a destructured argument; a boolean is wrapped", root: js(`({ n }) => n % 2 === 0`),
			input: obj("n", 4), want: obj("value", true)},
		{name: "undefined leaves the value", root: js(`() => {}`), input: obj("n", 4), want: obj("n", 4)},
		{name: "a mutated argument is the value", root: js(`p => { p.n++; p.added = [1, 2] }`),
			input: obj("n", 4), want: obj("n", 5, "added", []any{1.0, 2.0})},
		{name: "a number, a string, null and an array are wrapped", root: seq(
			js(`() => 5`), js(`p => p.value === 5 ? 'hi' : 0`), js(`p => p.value === 'hi' ? null : 0`), js(`p => [p.value, 'a']`)),
			input: obj(), want: obj("value", []any{nil, "a"})},
		{name: "JSON's view of the result", root: js(`() => ({ a: NaN, b: Infinity, f: () => 1, u: undefined, d: new Date(0) })`),
			input: obj(), want: obj("a", nil, "b", nil, "d", "1970-01-01T00:00:00.000Z")},
		{name: "an error field is an error", root: seq(js(`() => ({ error: 'no', x: 1 })`), js(`() => ({ never: true })`)),
			input: obj(), want: obj("error", "no")},
		{name: "Date and Math", root: js(`() => ({ y: new Date(0).getUTCFullYear(), m: Math.max(1, 3), r: Math.random() < 1 })`),
			input: obj(), want: obj("y", 1970, "m", 3, "r", true)},
		{name: "this is the global object, as in sloppy mode", root: js(`function () { return { t: typeof this } }`),
			input: obj(), want: obj("t", "object")},
		{name: "a promise is awaited", root: js(`async p => ({ n: p.n + 1 })`), input: obj("n", 1), want: obj("n", 2)},
		{name: "a thenable is awaited", root: js(`() => ({ then: resolve => resolve({ via: 'then' }) })`), input: obj(), want: obj("via", "then")},
		{name: "console exists", root: js(`p => { console.log('n is', p.n, { p }); console.error(p); return { ok: true } }`),
			input: obj("n", 4), want: obj("ok", true)},

		{name: "a let's variables are locals", root: let(vars("x", 1, "y", "a"), js(`p => ({ x, y, n: p.n })`)),
			input: obj("n", 4), want: obj("x", 1, "y", "a", "n", 4)},
		{name: "an assignment is written back", root: let(vars("x", 1), js(`function () { x = x + 10 }`), js(`() => ({ x })`)),
			input: obj(), want: obj("x", 11)},
		{name: "an object variable changed in place is written back", root: let(vars("o", obj("a", []any{1})), js(`() => { o.a.push(2) }`), js(`() => ({ o })`)),
			input: obj(), want: obj("o", obj("a", []any{1.0, 2.0}))},
		{name: "a masked frame's variables are not there", root: let(vars("x", 1), let(vars("y", 2), mask(js(`() => ({ tx: typeof x, ty: typeof y })`)))),
			input: obj(), want: obj("tx", "number", "ty", "undefined")},
		{name: "an inner let shadows: only the inner binding changes",
			root:  let(vars("x", 1), let(vars("x", 2), js(`() => { x = 20 }`), js(`() => ({ inner: x })`)), js(`p => ({ outer: x, inner: p.inner })`)),
			input: obj(), want: obj("outer", 1, "inner", 20)},
		{name: "under a mask the binding the mask leaves visible changes",
			root:  let(vars("x", 1), let(vars("x", 2), mask(js(`() => { x = 5 }`)), js(`() => ({ inner: x })`)), js(`p => ({ outer: x, inner: p.inner })`)),
			input: obj(), want: obj("outer", 5, "inner", 2)},
		{name: "the countdown of retry and repeat", root: let(vars("count", 2),
			while(policies.KindWhile, js(`() => count-- > 0`), js(`p => ({ n: p.n + 1 })`)), js(`p => ({ n: p.n, count })`)),
			input: obj("n", 0), want: obj("n", 2, "count", -1)},
		{name: "variables live in the state across actions", root: let(vars("count", 3), while(policies.KindWhile, js(`() => count-- > 0`), act("inc"))),
			input: obj("n", 0), acts: actions{"inc": inc}, want: obj("n", 3), calls: []string{"inc", "inc", "inc"}},

		{name: "a throw is an error value", root: seq(js(`p => ({ n: 1 })`), js(`() => { throw new Error('boom') }`)),
			input: obj(), want: threw("[1]")},
		{name: "which try catches", root: try(js(`() => { throw 1 }`), js(`p => ({ caught: p.error })`)),
			input: obj(), want: obj("caught", threw(".body")["error"])},
		{name: "assignments before a throw stand", root: let(vars("x", 1), try(js(`() => { x = 5; throw 1 }`), js(`() => ({ x })`))),
			input: obj(), want: obj("x", 5)},
		{name: "a variable JSON cannot carry throws and keeps its value", root: let(vars("x", 1), try(js(`() => { x = undefined }`), js(`p => ({ x, e: p.error })`))),
			input: obj(), want: obj("x", 1, "e", threw("[0].body")["error"])},
		{name: "a variable nested past the bound throws and keeps its value", root: let(vars("x", 1), try(js(`() => { for (let i = 0; i < 5000; i++) x = { x } }`), js(`p => ({ x, e: p.error })`))),
			input: obj(), want: obj("x", 1, "e", threw("[0].body")["error"])},
		{name: "a rejected promise throws", root: js(`async () => { throw 2 }`), input: obj(), want: threw("")},
		// Composer's would never end; here nothing can settle it.
		{name: "a promise that never settles throws", root: js(`async () => { await new Promise(() => {}) }`), input: obj(), want: threw("")},
		{name: "a function result is an error value", root: js(`() => () => 1`),
			input: obj(), want: obj("error", "Function combinator evaluated to a function type at AST node root")},
		// Composer's conductor has Node's require and would read the file.
		{name: "require is refused", root: js(`() => require('fs').readFileSync('/etc/hostname')`), input: obj(), want: threw("")},
		{name: "require is refused even when caught", root: js(`() => { try { require('fs'); return { fs: true } } catch (e) { return { fs: false } } }`),
			input: obj(), want: obj("fs", false)},
		// Node's conductor has all three.
		{name: "no process, no timers", root: js(`() => ({ p: typeof process, s: typeof setTimeout, b: typeof Buffer })`),
			input: obj(), want: obj("p", "undefined", "s", "undefined", "b", "undefined")},
		{name: "a deep recursion throws", root: js(`() => { const f = n => f(n + 1); return f(0) }`), input: obj(), want: threw("")},
		{name: "a recursion within the bound runs", root: js(`() => { const f = n => n === 0 ? 0 : 1 + f(n - 1); return { d: f(5000) } }`),
			input: obj(), want: obj("d", 5000)},
		{name: "expression and JavaScript functions together", root: let(vars("x", 1), js(`() => { x = 2 }`), fn("{x: x}")),
			input: obj(), want: obj("x", 2)},
	}, loadComposer())
}

func TestJSTimeout(t *testing.T) {
	runCasesWith(t, []runCase{
		{name: "an infinite loop is interrupted", root: js(`() => { while (true) {} }`), input: obj(), want: threw("")},
		{name: "a catch does not stop the interrupt", root: js(`() => { try { while (true) {} } catch (e) { return { caught: true } } }`),
			input: obj(), want: threw("")},
		{name: "an interrupted function's assignments are not written back",
			root:  let(map[string]any{"x": 1.0}, try(js(`() => { x = 2; for (;;) {} }`), js(`() => ({ x })`))),
			input: obj(), want: obj("x", 1)},
		{name: "an endless toJSON is interrupted", root: js(`() => ({ toJSON() { for (;;) {} } })`), input: obj(), want: threw("")},
		{name: "an endless then is interrupted", root: js(`() => ({ then() { for (;;) {} } })`), input: obj(), want: threw("")},
	}, loadComposer(WithJSTimeout(50*time.Millisecond)))
}

// TestJSNotJSON: a result JSON cannot carry ends the run, as it is
// composer's internal error; the run cannot catch it.
func TestJSNotJSON(t *testing.T) {
	for _, tt := range []struct{ name, src string }{
		{"a BigInt", `() => ({ b: 10n })`},
		{"a symbol", `() => Symbol('s')`},
		{"a cycle", `() => { const o = {}; o.o = o; return o }`},
		{"a value nested past the bound", `() => { let o = {}; for (let i = 0; i < 5000; i++) o = { o }; return o }`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := loadComposer()(t, try(js(tt.src), js(`() => ({ caught: true })`)))
			var st State
			_, err := m.Start(&st, obj())
			if err == nil || !strings.Contains(err.Error(), "program: function at .body: the result is not JSON") {
				t.Errorf("error %v", err)
			}
		})
	}
}

func TestJSLoadRefuses(t *testing.T) {
	tests := []struct {
		name string
		root *policies.Node
		want string
	}{
		{"a syntax error", seq(js(`p => ({ n: 1 })`), js(`p => { return p.n + }`)),
			"program: [1] (instruction 2): function: javascript: syntax error at line 1, column 21: Unexpected token }"},
		{"a syntax error on a later line", js("function (p) {\n  return p..n\n}"),
			"program: instruction 0: function: javascript: syntax error at line 2, column 11: Unexpected token ILLEGAL"},
		{"unclosed", js(`p => {`), "function: javascript: syntax error at the end of the code"},
		{"code that escapes the wrapper", js(`p => p)})(); (function(){(`), "javascript: syntax error"},
		{"a reserved word as a variable", let(map[string]any{"class": 1.0}, js(`() => 1`)),
			"the variables in scope (class) cannot all be JavaScript variables"},
		{"require as a variable", let(map[string]any{"require": 1.0}, js(`() => 1`)),
			"the variables in scope (require) cannot all be JavaScript variables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Lower(composerLabel(tt.root, ""), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err = Load(p); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
	bad := &Program{Instrs: []Instr{{Op: OpLet, Let: map[string]any{"a']=1;x['": 1.0}}, {Op: OpFunction, JS: "() => 1"}, {Op: OpExit}}}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "cannot be a JavaScript variable") {
		t.Errorf("a variable name that is code: %v", err)
	}
}

func TestJSCodec(t *testing.T) {
	p, err := Lower(composerLabel(let(map[string]any{"x": 1.0}, js(`() => { x++ }`)), ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `{"op":"function","path":"[0]","js":"() =\u003e { x++ }"}`) {
		t.Errorf("encoded %s", data)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(back); err != nil {
		t.Error(err)
	}
}

func TestJSLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := loadComposer(WithLogger(log))(t, seq(js(`p => { console.log('n is', p.n, { k: [1] }) }`), js(`() => { throw new Error('boom') }`)))
	got, _ := runAll(t, m, obj("n", 4), nil)
	if want := threw("[1]"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("value %v, want %v", got, want)
	}
	out := buf.String()
	for _, want := range []string{`level=INFO msg="n is 4 {\"k\":[1]}" path=[0] console=log`, `level=ERROR msg="function combinator threw an exception" path=[1] exception="Error: boom at`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

// TestJSSharedMachine: concurrent runs of one Machine, each evaluation in
// an interpreter of its own (go test -race).
func TestJSSharedMachine(t *testing.T) {
	m := loadComposer()(t, let(map[string]any{"i": 0.0},
		while(policies.KindWhile, js(`() => i++ < 20`), seq(js(`p => ({ n: p.n + 1, seen: [...(p.seen || []), i] })`), act("inc"))),
		js(`p => ({ n: p.n, last: p.seen[p.seen.length - 1] })`)))
	for _, got := range concurrentRuns(m, 8) {
		if got["n"] != 40.0 || got["last"] != 20.0 {
			t.Errorf("a run ended with %v", got)
		}
	}
}

// The cost of one function evaluation, expr against JavaScript.
func BenchmarkFunction(b *testing.B) {
	for _, bc := range []struct {
		name string
		root *policies.Node
	}{
		{"expr", fn("{n: params.n + 1}")},
		{"js", js(`p => ({ n: p.n + 1 })`)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := Lower(composerLabel(bc.root, ""), nil)
			if err != nil {
				b.Fatal(err)
			}
			m, err := Load(p)
			if err != nil {
				b.Fatal(err)
			}
			input := obj("n", 1)
			for b.Loop() {
				var st State
				ev, err := m.Start(&st, input)
				if err != nil || ev.Params["n"] != 2.0 {
					b.Fatal(ev, err)
				}
			}
		})
	}
}
