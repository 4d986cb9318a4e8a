package program

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// DefaultJSTimeout bounds one JavaScript function's evaluation unless
// Load is given another bound. Composer's conductor has none, but there a
// function that never returns only costs its own activation; here it
// would hold a conductor that may serve other runs.
const DefaultJSTimeout = 5 * time.Second

// jsMaxCallStack bounds a JavaScript function's call depth: about what
// Node's default stack holds for a simple recursion, so that code that
// runs under composer runs here, and a runaway recursion ends as an
// exception instead of exhausting the conductor's memory.
const jsMaxCallStack = 10000

// jsMaxJSONDepth bounds the nesting of a value a JavaScript function
// gives the machine: about where Node's JSON.stringify runs out of stack
// (4174 levels of {o: ...} in Node 20), below encoding/json's bound.
const jsMaxJSONDepth = 4000

// Option adjusts a Machine as Load builds it.
type Option func(*Machine)

// WithLogger has the machine log what JavaScript functions report: the
// exceptions they throw, which composer's conductor logs to its
// activation, and their console output. Without one both are dropped.
func WithLogger(l *slog.Logger) Option { return func(m *Machine) { m.log = l } }

// WithJSTimeout bounds each JavaScript function evaluation; d <= 0 keeps
// DefaultJSTimeout.
func WithJSTimeout(d time.Duration) Option {
	return func(m *Machine) {
		if d > 0 {
			m.jsTimeout = d
		}
	}
}

// jsIdent is what composer's wrapper can declare as a var and name in a
// string literal without the name changing the code around it.
var jsIdent = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// jsWrapper is composer's run() wrapper for code seeing vars (see
// jsFunction), with two changes that leave what the code sees as it is:
// the code stands on lines of its own, so that its syntax errors have
// its own line numbers (one more) and a trailing line comment cannot eat
// the wrapper; and the finally block ends by calling arguments[3], which
// takes the variables' values at the point where composer's set() does.
func jsWrapper(code string, vars []string) string {
	var b strings.Builder
	b.WriteString("(function(){try{const require=arguments[2];")
	for _, name := range vars {
		fmt.Fprintf(&b, "var %s=arguments[1]['%s'];", name, name)
	}
	b.WriteString("return eval((function(){return(\n")
	b.WriteString(code)
	b.WriteString("\n)})())(arguments[0])}finally{")
	for _, name := range vars {
		fmt.Fprintf(&b, "arguments[1]['%s']=%s;", name, name)
	}
	b.WriteString("arguments[3]()}})")
	return b.String()
}

// compileJS compiles a JavaScript function node's wrapper once for every
// run. A syntax error is the code's, with its own position, unless it is
// on the wrapper's first line: then a variable's name is to blame (a
// reserved word, or require).
func compileJS(path, code string, vars []string) (*goja.Program, error) {
	for _, name := range vars {
		if !jsIdent.MatchString(name) {
			return nil, fmt.Errorf("javascript: variable %q in scope cannot be a JavaScript variable", name)
		}
	}
	src := jsWrapper(code, vars)
	ast, err := parser.ParseFile(nil, path, src, 0)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			return nil, jsSyntaxError(code, vars, list[0].Position.Line, list[0].Position.Column, list[0].Message)
		}
		return nil, fmt.Errorf("javascript: %w", err)
	}
	prog, err := goja.CompileAST(ast, false)
	if err != nil {
		var syn *goja.CompilerSyntaxError
		if errors.As(err, &syn) && syn.File != nil {
			pos := syn.File.Position(syn.Offset)
			return nil, jsSyntaxError(code, vars, pos.Line, pos.Column, syn.Message)
		}
		return nil, fmt.Errorf("javascript: %w", err)
	}
	return prog, nil
}

// jsSyntaxError places a syntax error of the wrapper in the code.
func jsSyntaxError(code string, vars []string, line, col int, msg string) error {
	lines := strings.Count(code, "\n") + 1
	switch {
	case line <= 1:
		return fmt.Errorf("javascript: the variables in scope (%s) cannot all be JavaScript variables: %s", strings.Join(vars, ", "), msg)
	case line-1 > lines:
		return fmt.Errorf("javascript: syntax error at the end of the code: %s", msg)
	}
	return fmt.Errorf("javascript: syntax error at line %d, column %d: %s", line-1, col, msg)
}

// jsResult is what one evaluation gives the machine.
type jsResult struct {
	value    any            // the next value, JSON; unset when threw or function
	vars     map[string]any // the variables' values to write back, JSON
	threw    error          // the exception, if the call or the write-back threw
	function bool           // the result was a function
}

// jsFunction runs a JavaScript function node as composer's conductor runs
// exec.code (conductor.js: run() and the function case):
//
//   - The variables in view (the let frames view leaves visible) are
//     collapsed into one environment, the innermost binding winning, and
//     the code runs inside a function in which each is a local var: the
//     function the code evaluates to is a closure that reads and assigns
//     them.
//   - That function is called with the current value itself as its only
//     argument (JSON, parsed in the interpreter), so mutating the argument
//     changes the value.
//   - After the call, also when it throws, every variable's value goes
//     back, as a JSON copy, to its innermost binding. A value JSON cannot
//     carry (undefined, a function, a BigInt, a cycle) throws there, as
//     composer's JSON.parse(JSON.stringify(v)) does; the variables before
//     it, in name order, are written, the rest are not (composer goes in
//     its environment's key order).
//   - A promise (or thenable) is awaited, as composer's then() does.
//   - undefined leaves the value as it is, with any changes the function
//     made to it; a function is the error value "Function combinator
//     evaluated to a function type at AST node root<path>"; an exception
//     is "Function combinator threw an exception at AST node root<path>
//     (see log for details)", the exception going to the logger.
//   - Anything else is the next value, JSON.stringify's view of it (NaN
//     and the infinities null, functions inside dropped), inspected as
//     any function's: a non-object v is {value: v}. A result that JSON
//     cannot carry at all is a Go error, as it is composer's internal
//     error that ends the run.
//
// Where composer's conductor has Node's require, here require throws.
// The interpreter has no file, network or process access, a fresh one
// serves each evaluation, so nothing of one run is seen by another, and
// the evaluation is bounded in time and call depth: either bound ends it
// as an exception. An interrupted function's variables are not written
// back (its finally blocks do not run).
func (m *Machine) jsFunction(st *State, i int, params map[string]any) (any, error) {
	in := &m.prog.Instrs[i]
	c := &m.code[i]
	bound := visible(st.Stack)
	env := make(map[string]any, len(c.vars))
	for _, name := range c.vars {
		if f, ok := bound[name]; ok {
			env[name] = st.Stack[f].Let[name]
		}
	}
	r, err := m.evalJS(c.js, in.Path, params, env)
	if err != nil {
		return nil, fmt.Errorf("program: function at %s: %w", in.Path, err)
	}
	for _, name := range c.vars {
		v, ok := r.vars[name]
		if !ok {
			continue
		}
		b, ok := bind(st, name)
		if !ok {
			continue
		}
		if err := b.set(v); err != nil {
			return nil, fmt.Errorf("program: function at %s: variable %s: %w", in.Path, name, err)
		}
	}
	switch {
	case r.threw != nil:
		if m.log != nil {
			m.log.Error("function combinator threw an exception", "path", in.Path, "exception", r.threw.Error())
		}
		return map[string]any{"error": "Function combinator threw an exception at AST node root" + in.Path + " (see log for details)"}, nil
	case r.function:
		return map[string]any{"error": "Function combinator evaluated to a function type at AST node root" + in.Path}, nil
	}
	return r.value, nil
}

// errJSTimeout is why an evaluation was interrupted.
type errJSTimeout time.Duration

func (e errJSTimeout) Error() string {
	return fmt.Sprintf("interrupted after %s (the conductor's bound on a function)", time.Duration(e))
}

// jsRealm is one evaluation's interpreter, with the built-ins the machine
// uses taken before the code runs, so that code replacing them changes
// only what it sees itself.
type jsRealm struct {
	vm        *goja.Runtime
	stringify goja.Callable
	parse     goja.Callable
	resolve   goja.Callable // Promise.resolve
	promise   goja.Value    // Promise, resolve's this
	timeout   time.Duration
	// expired is set when the time is up. The interrupt it causes is
	// taken by the first call that sees it, so later calls, which
	// might run the code's toJSON or toString, check this instead.
	expired atomic.Bool
}

func newJSRealm(m *Machine, path string) (*jsRealm, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(jsMaxCallStack)
	r := &jsRealm{vm: vm}
	jsonObj := vm.Get("JSON").ToObject(vm)
	var ok1, ok2, ok3 bool
	r.stringify, ok1 = goja.AssertFunction(jsonObj.Get("stringify"))
	r.parse, ok2 = goja.AssertFunction(jsonObj.Get("parse"))
	r.promise = vm.Get("Promise")
	r.resolve, ok3 = goja.AssertFunction(r.promise.ToObject(vm).Get("resolve"))
	if !ok1 || !ok2 || !ok3 {
		return nil, errors.New("javascript: the interpreter lacks JSON or Promise")
	}
	if err := vm.Set("console", r.console(m.log, path)); err != nil {
		return nil, fmt.Errorf("javascript: console: %w", err)
	}
	return r, nil
}

// call calls f unless the time is up.
func (r *jsRealm) call(f goja.Callable, this goja.Value, args ...goja.Value) (goja.Value, error) {
	if r.expired.Load() {
		return nil, &goja.InterruptedError{}
	}
	return f(this, args...)
}

// toJS is v as the conductor's code has it: parsed JSON, plain objects
// and arrays rather than Go values seen through wrappers.
func (r *jsRealm) toJS(v any) (goja.Value, error) {
	n, err := normalize(v)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(n)
	if err != nil {
		return nil, err
	}
	return r.call(r.parse, goja.Undefined(), r.vm.ToValue(string(data)))
}

// stringify is JSON.stringify(v), bounded as Node's is by its stack and,
// through a replacer that changes nothing, by the deadline. Without the
// bounds a deep value would hold the conductor: goja's stringify is Go
// code, which the interrupt cannot stop, and checks for cycles in time
// proportional to the depth, so a chain of 100000 objects takes seconds
// and deeper ones minutes.
func (r *jsRealm) stringifyBounded(v goja.Value) (goja.Value, error) {
	depth := map[*goja.Object]int{}
	guard := r.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		if r.expired.Load() {
			panic(&goja.InterruptedError{})
		}
		v := call.Argument(1)
		if o, ok := v.(*goja.Object); ok {
			holder, _ := call.This.(*goja.Object)
			d := depth[holder] + 1
			if d > jsMaxJSONDepth {
				panic(r.vm.NewTypeError("JSON.stringify: a value nested deeper than %d levels", jsMaxJSONDepth))
			}
			depth[o] = d
		}
		return v
	})
	return r.call(r.stringify, goja.Undefined(), v, guard)
}

// fromJS is JSON.parse(JSON.stringify(v)) in Go; ok is false when
// stringify gives undefined, which composer's JSON.parse refuses.
func (r *jsRealm) fromJS(v goja.Value) (out any, ok bool, err error) {
	s, err := r.stringifyBounded(v)
	if err != nil {
		return nil, false, err
	}
	if goja.IsUndefined(s) {
		return nil, false, nil
	}
	if err := json.Unmarshal([]byte(s.String()), &out); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// console is Node's console as far as a function's logging goes: a line
// per call, to the machine's logger.
func (r *jsRealm) console(log *slog.Logger, path string) *goja.Object {
	obj := r.vm.NewObject()
	levels := map[string]slog.Level{"log": slog.LevelInfo, "info": slog.LevelInfo, "debug": slog.LevelDebug, "warn": slog.LevelWarn, "error": slog.LevelError}
	for name, level := range levels {
		_ = obj.Set(name, func(call goja.FunctionCall) goja.Value {
			if log == nil {
				return goja.Undefined()
			}
			parts := make([]string, len(call.Arguments))
			for k, a := range call.Arguments {
				parts[k] = r.show(a)
			}
			log.Log(context.Background(), level, strings.Join(parts, " "), "path", path, "console", name)
			return goja.Undefined()
		})
	}
	return obj
}

// show is a console argument as text: strings as they are, objects as
// JSON where they have it. It runs inside the code's call, so what it
// throws is the code's exception.
func (r *jsRealm) show(v goja.Value) string {
	if _, isObj := v.(*goja.Object); isObj {
		if _, isFn := goja.AssertFunction(v); !isFn {
			if s, err := r.stringifyBounded(v); err == nil && !goja.IsUndefined(s) {
				return s.String()
			}
		}
	}
	return v.String()
}

// evalJS is one evaluation, in a realm of its own.
func (m *Machine) evalJS(prog *goja.Program, path string, params, env map[string]any) (res jsResult, err error) {
	r, err := newJSRealm(m, path)
	if err != nil {
		return jsResult{}, err
	}
	r.timeout = m.jsTimeout
	if r.timeout <= 0 {
		r.timeout = DefaultJSTimeout
	}
	timer := time.AfterFunc(r.timeout, func() {
		r.expired.Store(true)
		r.vm.Interrupt(errJSTimeout(r.timeout))
	})
	defer timer.Stop()
	// The interpreter reports JavaScript's exceptions as errors; a panic
	// is its own failure, and costs this function, not the conductor.
	defer func() {
		if x := recover(); x != nil {
			res, err = jsResult{threw: fmt.Errorf("javascript interpreter failure: %v", x)}, nil
		}
	}()

	wrapper, err := r.vm.RunProgram(prog)
	if err != nil {
		return jsResult{threw: r.describe(err)}, nil
	}
	fn, ok := goja.AssertFunction(wrapper)
	if !ok {
		return jsResult{}, errors.New("javascript: the wrapper is not a function (a bug)")
	}
	arg, err := r.toJS(params)
	if err != nil {
		return jsResult{}, fmt.Errorf("the value: %w", err)
	}
	envObj, err := r.toJS(env)
	if err != nil {
		return jsResult{}, fmt.Errorf("the variables: %w", err)
	}
	require := r.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		panic(r.vm.NewGoError(fmt.Errorf("require(%s) refused: functions run by the wskx conductor have no modules", call.Argument(0).String())))
	})
	res.vars = map[string]any{}
	take := r.vm.ToValue(func(goja.FunctionCall) goja.Value {
		obj := envObj.ToObject(r.vm)
		for _, name := range slices.Sorted(maps.Keys(env)) {
			v, ok, err := r.fromJS(obj.Get(name))
			if err != nil {
				r.throw(err)
			}
			if !ok {
				panic(r.vm.NewTypeError("variable %s has no JSON value", name))
			}
			res.vars[name] = v
		}
		return goja.Undefined()
	})
	out, err := r.call(fn, goja.Undefined(), arg, envObj, require, take)
	if err == nil {
		// Resolved in its own call, so that a thenable's jobs run as
		// that call returns.
		var p goja.Value
		if p, err = r.call(r.resolve, r.promise, out); err == nil {
			out, err = settled(p)
		}
	}
	if err != nil {
		res.threw = r.describe(err)
		return res, nil
	}
	if _, isFn := goja.AssertFunction(out); isFn {
		res.function = true
		return res, nil
	}
	if goja.IsUndefined(out) {
		out = arg
	}
	v, ok, err := r.fromJS(out)
	switch {
	case err != nil && r.expired.Load():
		// The code's toJSON ran out of time: the bound's exception,
		// whatever stage the time ran out at.
		res.threw = r.describe(err)
		return res, nil
	case err != nil:
		return jsResult{}, fmt.Errorf("the result is not JSON: %s", r.describe(err))
	case !ok:
		return jsResult{}, errors.New("the result is not JSON (JSON.stringify gives undefined)")
	}
	res.value = v
	return res, nil
}

// settled is a promise's value once the jobs have run: its result, its
// rejection as an exception, or an exception if it is still pending,
// for nothing here could settle it later.
func settled(v goja.Value) (goja.Value, error) {
	p, ok := v.Export().(*goja.Promise)
	if !ok {
		return v, nil
	}
	switch p.State() {
	case goja.PromiseStateFulfilled:
		return p.Result(), nil
	case goja.PromiseStateRejected:
		return nil, &jsRejection{p.Result()}
	}
	return nil, errors.New("the function's promise never settled (the conductor has no event loop)")
}

type jsRejection struct{ reason goja.Value }

func (e *jsRejection) Error() string { return "promise rejected: " + e.reason.String() }

// throw rethrows err, which a call into the interpreter returned, from a
// Go function the code called.
func (r *jsRealm) throw(err error) {
	var ex *goja.Exception
	var intr *goja.InterruptedError
	switch {
	case errors.As(err, &intr):
		panic(intr)
	case errors.As(err, &ex):
		panic(ex)
	}
	panic(r.vm.NewGoError(err))
}

// describe makes an exception's text once, when it can no longer run the
// code: a thrown object's toString is the code's and may throw or loop.
func (r *jsRealm) describe(err error) (out error) {
	var interrupted *goja.InterruptedError
	if errors.As(err, &interrupted) || r.expired.Load() {
		return errJSTimeout(r.timeout)
	}
	defer func() {
		if recover() != nil {
			out = errors.New("an exception whose text cannot be shown")
		}
	}()
	return errors.New(err.Error())
}
