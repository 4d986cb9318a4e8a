package program

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/wskx/wskx/policies"
)

// MaxTransitions bounds the instructions one Start or Resume runs: a run
// that neither calls anything nor ends by then is looping on functions
// alone, and would otherwise hold its conductor until the platform kills
// it.
const MaxTransitions = 10000

// Machine runs one program. It is immutable once loaded, so one Machine
// serves any number of runs at once, each with its own State.
type Machine struct {
	prog      *Program
	code      []compiled // by instruction
	log       *slog.Logger
	jsTimeout time.Duration
}

type compiled struct {
	vars []string      // the user variables the expressions see
	fn   *vm.Program   // a function's expression
	js   *goja.Program // a JavaScript function's wrapper
	set  []*vm.Program // a set's, by assignment
}

// State is a run between two transitions: what a conductor carries from
// one invocation to the next.
type State struct {
	// PC is the next instruction; once the run is done, -1 (an error
	// nothing caught) or the program's length.
	PC int `json:"pc"`
	// Stack is the frame stack, innermost first as in the conductor.
	Stack  []Frame     `json:"stack,omitempty"`
	Visits map[int]int `json:"visits,omitempty"` // job index -> times entered in this workflow instance
	// Forks counts the entries into each fan-out instruction, and Branch
	// names the branch this run is ("" for the workflow's own), so that
	// forks, and jobs inside branches, have names of their own.
	Forks  map[int]int `json:"forks,omitempty"`
	Branch string      `json:"branch,omitempty"`
}

// Frame is one entry of the stack: a try's handler, a let's variables, or
// a mask (composer's let: null), which hides the next let below it.
type Frame struct {
	Catch *int           `json:"catch,omitempty"` // absolute pc of a try's handler
	Let   map[string]any `json:"let,omitempty"`
	Mask  bool           `json:"mask,omitempty"`
	// Marker is a branch's bottom: an error in the branch unwinds no
	// further, into handlers of the parent's that the branch copied.
	Marker bool `json:"marker,omitempty"`
}

// MarshalJSON keeps an empty let as {}: dropped, the frame would come
// back as a try frame, and a mask above it would hide the wrong let.
func (f Frame) MarshalJSON() ([]byte, error) {
	w := struct {
		Catch  *int            `json:"catch,omitempty"`
		Let    *map[string]any `json:"let,omitempty"`
		Mask   bool            `json:"mask,omitempty"`
		Marker bool            `json:"marker,omitempty"`
	}{Catch: f.Catch, Mask: f.Mask, Marker: f.Marker}
	if f.Let != nil {
		w.Let = &f.Let
	}
	return json.Marshal(w)
}

func (f *Frame) isLet() bool { return !f.Mask && f.Let != nil }

// EventKind is why a run stopped.
type EventKind int

const (
	// Call asks for an action invocation.
	Call EventKind = iota + 1
	// RunJob asks for a job run.
	RunJob
	// Done is the end of the run (of a branch, in a branch).
	Done
	// Fork asks for branches to be started (fork.go).
	Fork
)

func (k EventKind) String() string {
	switch k {
	case Call:
		return "call"
	case RunJob:
		return "run-job"
	case Done:
		return "done"
	case Fork:
		return "fork"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what the caller does next.
type Event struct {
	Kind   EventKind
	Action string         // Call: action name as written, or the name a dynamic node gave
	Params map[string]any // Call/RunJob: the input; Done: the final value (maybe {"error": ...})
	Job    int            // RunJob: index into Program.Jobs
	Visit  int            // RunJob: 1-based count of entries into that job node (st.Visits after increment)
	Path   string         // the node's path
	// Fork: the branches to start, each a run of its own; Async says the
	// parent goes on at once (Resume with the async result), otherwise
	// it waits for every branch's end (Resume with {"value": [results]}).
	// ForkID names this fork in the run, Join is the node's join.
	Branches []Branch
	Async    bool
	ForkID   string
	Join     string
}

// Load checks p and compiles its expressions, each against the user
// variables visible where it stands, so that a misspelt variable fails
// here rather than in the middle of a run; JavaScript functions are
// compiled too, so that a syntax error fails here.
func Load(p *Program, opts ...Option) (*Machine, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m := &Machine{prog: p, code: make([]compiled, len(p.Instrs)), jsTimeout: DefaultJSTimeout}
	for _, o := range opts {
		o(m)
	}
	// The lowering lays code out in nesting order and every construct
	// leaves the stack as it found it; a handler, reached by unwinding,
	// has the frames from before its try, as the walk does past the try's
	// exit. So walking in order has at each instruction the frames it
	// will run under.
	var frames []Frame // innermost first
	for i := range p.Instrs {
		in := &p.Instrs[i]
		where := func() string {
			if in.Path == "" {
				return fmt.Sprintf("instruction %d", i)
			}
			return fmt.Sprintf("%s (instruction %d)", in.Path, i)
		}
		bound := visible(frames)
		var user []string
		for name := range bound {
			if !internal(name) {
				user = append(user, name)
			}
		}
		slices.Sort(user)
		c := &m.code[i]
		c.vars = user
		switch in.Op {
		case OpFunction:
			if in.JS != "" {
				prog, err := compileJS(in.Path, in.JS, user)
				if err != nil {
					return nil, fmt.Errorf("program: %s: function: %w", where(), err)
				}
				c.js = prog
				break
			}
			prog, err := policies.CompileValue(in.Expr, user)
			if err != nil {
				return nil, fmt.Errorf("program: %s: function %q: %w", where(), in.Expr, err)
			}
			c.fn = prog
		case OpSet:
			for _, a := range in.Set {
				if _, ok := bound[a.Var]; !ok || internal(a.Var) {
					return nil, fmt.Errorf("program: %s: set %s: no such variable here (visible: %v)", where(), a.Var, user)
				}
				prog, err := policies.CompileValue(a.Expr, user)
				if err != nil {
					return nil, fmt.Errorf("program: %s: set %s = %q: %w", where(), a.Var, a.Expr, err)
				}
				c.set = append(c.set, prog)
			}
		case OpBuiltin:
			if _, ok := bound[in.Var]; in.Var != "" && !ok {
				return nil, fmt.Errorf("program: %s: builtin %s: variable %s is not bound here", where(), in.Builtin, in.Var)
			}
		case OpTry:
			frames = slices.Insert(frames, 0, Frame{Catch: new(int)})
		case OpLet:
			if _, ok := in.Let["params"]; ok {
				return nil, fmt.Errorf("program: %s: variable \"params\" would hide the current value", where())
			}
			f := Frame{Mask: in.Mask}
			if !in.Mask {
				f.Let = in.Let
				if f.Let == nil {
					f.Let = map[string]any{}
				}
			}
			frames = slices.Insert(frames, 0, f)
		case OpExit:
			if len(frames) == 0 {
				return nil, fmt.Errorf("program: %s: exit with no frame to leave", where())
			}
			frames = frames[1:]
		}
	}
	return m, nil
}

// Program is the program m runs.
func (m *Machine) Program() *Program { return m.prog }

// view is the conductor's run(): the let frames a function sees, as
// indices into stack, innermost first. Each mask hides the next let
// frame below it that another mask has not already hidden.
func view(stack []Frame) []int {
	var out []int
	hidden := 0
	for i := range stack {
		switch f := &stack[i]; {
		case f.Mask:
			hidden++
		case f.isLet():
			if hidden == 0 {
				out = append(out, i)
			} else {
				hidden--
			}
		}
	}
	return out
}

// visible maps each variable in view to the innermost frame binding it.
func visible(stack []Frame) map[string]int {
	out := map[string]int{}
	for _, i := range slices.Backward(view(stack)) {
		for name := range stack[i].Let {
			out[name] = i
		}
	}
	return out
}

// cell is one variable binding in a state's stack.
type cell struct {
	st    *State
	frame int
	name  string
}

func (c *cell) get() any { return c.st.Stack[c.frame].Let[c.name] }

// set stores a copy of v. The stack and the frame are copied, not written
// through, so a State the caller copied before is not changed under it.
func (c *cell) set(v any) error {
	v, err := normalize(v)
	if err != nil {
		return err
	}
	stack := slices.Clone(c.st.Stack)
	let := maps.Clone(stack[c.frame].Let)
	let[c.name] = v
	stack[c.frame].Let = let
	c.st.Stack = stack
	return nil
}

// bind finds the innermost visible binding of name.
func bind(st *State, name string) (*cell, bool) {
	i, ok := visible(st.Stack)[name]
	if !ok {
		return nil, false
	}
	return &cell{st: st, frame: i, name: name}, true
}

// Start begins a run of the workflow on params, forgetting whatever st
// held. As conductor.js, it does not inspect the input: an invocation's
// parameters are data, even with an error field, and only components'
// results can fail.
func (m *Machine) Start(st *State, params map[string]any) (Event, error) {
	*st = State{}
	if params == nil {
		params = map[string]any{}
	}
	return m.run(st, params)
}

// Resume carries on a run with the result of the Call or RunJob that the
// last Start or Resume returned.
func (m *Machine) Resume(st *State, result map[string]any) (Event, error) {
	n := len(m.prog.Instrs)
	if st.PC < 0 || st.PC > n {
		return Event{}, fmt.Errorf("program: internal error: the state's pc %d is outside 0..%d", st.PC, n)
	}
	for _, f := range st.Stack {
		if f.Catch != nil && (*f.Catch < 0 || *f.Catch > n) {
			return Event{}, fmt.Errorf("program: internal error: the state has a handler at %d, outside 0..%d", *f.Catch, n)
		}
	}
	return m.run(st, m.inspect(st, result))
}

// inspect is the conductor's: a value that is not an object is wrapped
// as {value}, and one with an error field (null included) is cut down to
// that field while the stack unwinds to the innermost handler; with none
// the run ends.
func (m *Machine) inspect(st *State, v any) map[string]any {
	params, ok := v.(map[string]any)
	switch {
	case ok && params == nil:
		params = map[string]any{}
	case !ok:
		params = map[string]any{"value": v}
	}
	e, failed := params["error"]
	if !failed {
		return params
	}
	st.PC = -1
	for len(st.Stack) > 0 && !st.Stack[0].Marker {
		f := st.Stack[0]
		st.Stack = st.Stack[1:]
		if f.Catch != nil {
			st.PC = *f.Catch
			break
		}
	}
	return map[string]any{"error": e}
}

// run steps from st.PC until something must be called or the program ends.
func (m *Machine) run(st *State, params map[string]any) (Event, error) {
	n := len(m.prog.Instrs)
	for steps := 0; ; steps++ {
		if st.PC < 0 || st.PC >= n {
			return Event{Kind: Done, Params: params}, nil
		}
		i := st.PC
		in := &m.prog.Instrs[i]
		if steps == MaxTransitions {
			return Event{}, fmt.Errorf("program: internal error: %d transitions without an action, a job or the end (at %s, instruction %d)", MaxTransitions, in.Path, i)
		}
		// As in the conductor, the pc moves on first: a call returns
		// with it pointing where the result goes, and a jump overrides it.
		st.PC = i + in.step()
		switch in.Op {
		case OpPass:
		case OpEmpty:
			params = m.inspect(st, params)
		case OpChoice:
			if truthy(params["value"]) {
				st.PC = i + in.Then
			} else {
				st.PC = i + in.Else
			}
		case OpTry:
			catch := i + in.Catch
			st.Stack = slices.Insert(slices.Clip(st.Stack), 0, Frame{Catch: &catch})
		case OpLet:
			f := Frame{Mask: in.Mask}
			if !in.Mask {
				let, err := normalize(in.Let)
				if err != nil {
					return Event{}, fmt.Errorf("program: internal error at %s: let: %w", in.Path, err)
				}
				if f.Let, _ = let.(map[string]any); f.Let == nil {
					f.Let = map[string]any{}
				}
			}
			st.Stack = slices.Insert(slices.Clip(st.Stack), 0, f)
		case OpExit:
			if len(st.Stack) == 0 {
				return Event{}, fmt.Errorf("program: internal error: exit from an empty stack at %s (instruction %d)", in.Path, i)
			}
			st.Stack = st.Stack[1:]
		case OpAction:
			args, err := under(in.Params, params)
			if err != nil {
				return Event{}, fmt.Errorf("program: internal error at %s: params: %w", in.Path, err)
			}
			return Event{Kind: Call, Action: in.Action, Params: args, Path: in.Path}, nil
		case OpJob:
			visits := maps.Clone(st.Visits)
			if visits == nil {
				visits = map[int]int{}
			}
			visits[in.Job]++
			st.Visits = visits
			return Event{Kind: RunJob, Params: params, Job: in.Job, Visit: visits[in.Job], Path: in.Path}, nil
		case OpDynamic:
			typ, _ := params["type"].(string)
			name, isName := params["name"].(string)
			// JavaScript's typeof also lets null and arrays through
			// as params; an invocation takes an object.
			args, isArgs := params["params"].(map[string]any)
			if typ == "action" && isName && isArgs {
				return Event{Kind: Call, Action: name, Params: args, Path: in.Path}, nil
			}
			params = m.inspect(st, map[string]any{"error": "Incorrect use of the dynamic combinator at " + in.Path})
		case OpValue:
			v, err := normalize(in.Value)
			if err != nil {
				return Event{}, fmt.Errorf("program: internal error at %s: value: %w", in.Path, err)
			}
			params = m.inspect(st, v)
		case OpFunction:
			if m.code[i].js == nil {
				params = m.inspect(st, m.function(st, i, params))
				break
			}
			v, err := m.jsFunction(st, i, params)
			if err != nil {
				return Event{}, err
			}
			params = m.inspect(st, v)
		case OpSet:
			if v, failed := m.set(st, i, params); failed {
				params = m.inspect(st, v)
			}
		case OpBuiltin:
			v, err := m.builtin(st, in, params)
			if err != nil {
				return Event{}, err
			}
			params = m.inspect(st, v)
		case OpParallel, OpMap, OpAsync:
			ev, started, err := m.fork(st, i, in, params)
			if err != nil || started {
				return ev, err
			}
			// No branch: composer's parent goes on with an empty result.
			params = map[string]any{"value": []any{}}
		case OpStop:
			st.PC = -1
		}
	}
}

// under lays params over an action node's constants, as OpenWhisk lays
// an invocation's parameters over an action's bound ones.
func under(consts, params map[string]any) (map[string]any, error) {
	if len(consts) == 0 {
		return params, nil
	}
	c, err := normalize(consts)
	if err != nil {
		return nil, err
	}
	out := c.(map[string]any)
	maps.Copy(out, params)
	return out, nil
}

// env is what an expression at instruction i sees: the value as params,
// and each variable's innermost visible binding.
func (m *Machine) env(st *State, i int, params map[string]any) map[string]any {
	env := map[string]any{"params": params}
	bound := visible(st.Stack)
	for _, name := range m.code[i].vars {
		if f, ok := bound[name]; ok {
			env[name] = st.Stack[f].Let[name]
		}
	}
	return env
}

// function returns the next value: the expression's, normalised, or an
// error value when it fails.
func (m *Machine) function(st *State, i int, params map[string]any) any {
	in := &m.prog.Instrs[i]
	v, err := expr.Run(m.code[i].fn, m.env(st, i, params))
	if err == nil {
		v, err = normalize(v)
	}
	if err != nil {
		return map[string]any{"error": fmt.Sprintf("function at %s failed: %s", in.Path, firstLine(err))}
	}
	return v
}

// firstLine drops the source excerpt expr appends to its errors: the
// error value names the node, and the file is where the source is.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// set runs the assignments in order, each seeing the ones before. A
// failure stops it, the assignments made standing, and gives the error
// value to inspect.
func (m *Machine) set(st *State, i int, params map[string]any) (map[string]any, bool) {
	in := &m.prog.Instrs[i]
	for k, prog := range m.code[i].set {
		a := in.Set[k]
		v, err := expr.Run(prog, m.env(st, i, params))
		if err == nil {
			c, ok := bind(st, a.Var)
			if !ok {
				err = fmt.Errorf("%s is not bound", a.Var)
			} else {
				err = c.set(v)
			}
		}
		if err != nil {
			return map[string]any{"error": fmt.Sprintf("set %s at %s failed: %s", a.Var, in.Path, firstLine(err))}, true
		}
	}
	return nil, false
}

// builtin runs a derived combinator's function. A failure is an error
// value, as the closure's exception is in composer; it takes a value the
// lowering did not shape, which only a caller's non-JSON result or a
// corrupt state gives. A binding missing altogether is a corrupt state.
func (m *Machine) builtin(st *State, in *Instr, params map[string]any) (any, error) {
	b := builtins[in.Builtin]
	var c *cell
	if b.usesVar {
		var ok bool
		if c, ok = bind(st, in.Var); !ok {
			return nil, fmt.Errorf("program: internal error: builtin %s at %s: %s is not bound", in.Builtin, in.Path, in.Var)
		}
	}
	v, err := b.run(c, params)
	if err == nil {
		if v == keep {
			return params, nil
		}
		v, err = normalize(v)
	}
	if err != nil {
		return map[string]any{"error": fmt.Sprintf("%s at %s failed: %v", in.Builtin, in.Path, err)}, nil
	}
	return v, nil
}
