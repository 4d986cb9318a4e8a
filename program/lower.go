package program

import (
	"encoding/json"
	"fmt"

	"github.com/wskx/wskx/policies"
)

// Lower turns a workflow tree into a program. job is asked, once per job
// node in the order the program runs them, for the step action that runs
// the node and its policy as the conductor is to hand it over.
func Lower(root *policies.Node, job func(*policies.Node) (step string, policy json.RawMessage)) (*Program, error) {
	if root == nil {
		return nil, fmt.Errorf("program: no workflow to lower")
	}
	l := &lowerer{job: job}
	code, err := l.node(root, root.Path)
	if err != nil {
		return nil, err
	}
	p := &Program{Instrs: code, Jobs: l.jobs}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("program: lowering produced a bad program (a bug): %w", err)
	}
	return p, nil
}

type lowerer struct {
	job  func(*policies.Node) (string, json.RawMessage)
	jobs []Job
}

// code is a lowered fragment. Its jumps are relative and stay inside it
// or land just past its end, so fragments concatenate as they are.
type code = []Instr

// lowerings holds one lowering per combinator. It is filled in init
// because the lowerings call node, which reads it.
var lowerings map[policies.Kind]func(*lowerer, *policies.Node) (code, error)

func init() {
	lowerings = map[policies.Kind]func(*lowerer, *policies.Node) (code, error){
		policies.KindEmpty:       (*lowerer).empty,
		policies.KindAction:      (*lowerer).action,
		policies.KindJob:         (*lowerer).jobNode,
		policies.KindFunction:    (*lowerer).function,
		policies.KindValue:       (*lowerer).value,
		policies.KindSet:         (*lowerer).set,
		policies.KindSequence:    (*lowerer).sequence,
		policies.KindIf:          (*lowerer).ifNode,
		policies.KindWhile:       (*lowerer).while,
		policies.KindDoWhile:     (*lowerer).dowhile,
		policies.KindRepeat:      (*lowerer).repeat,
		policies.KindRetry:       (*lowerer).retry,
		policies.KindTry:         (*lowerer).try,
		policies.KindFinally:     (*lowerer).finally,
		policies.KindLet:         (*lowerer).let,
		policies.KindMask:        (*lowerer).mask,
		policies.KindRetain:      (*lowerer).retain,
		policies.KindRetainCatch: (*lowerer).retainCatch,
		policies.KindMerge:       (*lowerer).merge,
		policies.KindDynamic:     (*lowerer).dynamic,
		policies.KindParallel:    (*lowerer).parallel,
		policies.KindMap:         (*lowerer).mapNode,
		policies.KindAsync:       (*lowerer).async,
	}
}

// node lowers n; a missing node is composer's null, the empty
// composition, and takes its parent's path as the conductor's "parent".
func (l *lowerer) node(n *policies.Node, parent string) (code, error) {
	if n == nil {
		return emptyCode(parent), nil
	}
	f, ok := lowerings[n.Kind]
	if !ok {
		return nil, fmt.Errorf("program: %s: unknown combinator %q", n.Path, n.Kind)
	}
	return f(l, n)
}

// nodes lowers several children in the order they run.
func (l *lowerer) nodes(parent string, ns ...*policies.Node) ([]code, error) {
	out := make([]code, len(ns))
	for i, n := range ns {
		c, err := l.node(n, parent)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// The primitive shapes, as conductor.js compiles them. Each takes its
// parts already lowered; path is stamped on the instructions it adds.

func one(path string, in Instr) code {
	in.Path = path
	return code{in}
}

// many is the conductor's compile of a component list: the components
// back to back, or a lone empty instruction when there are none.
func many(path string, parts ...code) code {
	if len(parts) == 0 {
		return one(path, Instr{Op: OpEmpty})
	}
	var out code
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func seqCode(path string, parts ...code) code {
	return append(one(path, Instr{Op: OpPass}), many(path, parts...)...)
}

// emptyCode is composer's empty(), which is sequence() with nothing in it.
func emptyCode(path string) code { return seqCode(path) }

func letCode(path string, vars map[string]any, parts ...code) code {
	out := one(path, Instr{Op: OpLet, Let: vars})
	out = append(out, many(path, parts...)...)
	return append(out, one(path, Instr{Op: OpExit})...)
}

func maskCode(path string, parts ...code) code {
	out := one(path, Instr{Op: OpLet, Mask: true})
	out = append(out, many(path, parts...)...)
	return append(out, one(path, Instr{Op: OpExit})...)
}

// finallyCode runs fin after body whether body failed or not: the exit
// falls through into fin, and an error in body unwinds to it.
func finallyCode(path string, body, fin code) code {
	out := one(path, Instr{Op: OpTry, Catch: len(body) + 2})
	out = append(out, body...)
	out = append(out, one(path, Instr{Op: OpExit})...)
	return append(out, fin...)
}

// tryCode is finally whose exit jumps over the handler.
func tryCode(path string, body, handler code) code {
	handler = append(append(code{}, handler...), one(path, Instr{Op: OpPass})...)
	out := one(path, Instr{Op: OpTry, Catch: len(body) + 2})
	out = append(out, body...)
	out = append(out, one(path, Instr{Op: OpExit, Next: len(handler)})...)
	return append(out, handler...)
}

// jumpFromEnd makes c's last instruction jump by rel. Every fragment ends
// in an instruction that falls through, so nothing is overwritten.
func jumpFromEnd(c code, rel int) code {
	c = append(code{}, c...)
	c[len(c)-1].Next = rel
	return c
}

func ifNosaveCode(path string, test, then, els code) code {
	els = append(append(code{}, els...), one(path, Instr{Op: OpPass})...)
	out := one(path, Instr{Op: OpPass})
	out = append(out, test...)
	out = append(out, one(path, Instr{Op: OpChoice, Then: 1, Else: len(then) + 1})...)
	out = append(out, jumpFromEnd(then, len(els))...)
	return append(out, els...)
}

func whileNosaveCode(path string, test, body code) code {
	out := one(path, Instr{Op: OpPass})
	out = append(out, test...)
	out = append(out, one(path, Instr{Op: OpChoice, Then: 1, Else: len(body) + 1})...)
	// The body's end jumps back to the opening pass.
	out = append(out, jumpFromEnd(body, -(len(out)+len(body)-1))...)
	return append(out, one(path, Instr{Op: OpPass})...)
}

func dowhileNosaveCode(path string, body, test code) code {
	out := one(path, Instr{Op: OpPass})
	out = append(out, body...)
	out = append(out, test...)
	out = append(out, one(path, Instr{Op: OpChoice, Then: -len(out), Else: 1})...)
	return append(out, one(path, Instr{Op: OpPass})...)
}

func builtinCode(path, name, v string) code {
	return one(path, Instr{Op: OpBuiltin, Builtin: name, Var: v})
}

// The core combinators.

func (l *lowerer) empty(n *policies.Node) (code, error) { return emptyCode(n.Path), nil }

func (l *lowerer) sequence(n *policies.Node) (code, error) {
	parts, err := l.nodes(n.Path, n.Components...)
	if err != nil {
		return nil, err
	}
	return seqCode(n.Path, parts...), nil
}

func (l *lowerer) action(n *policies.Node) (code, error) {
	if n.Action == "" {
		return nil, fmt.Errorf("program: %s: an action node needs an action name", n.Path)
	}
	params, err := jsonMap(n.Path, "params", n.Params)
	if err != nil {
		return nil, err
	}
	return one(n.Path, Instr{Op: OpAction, Action: n.Action, Params: params}), nil
}

func (l *lowerer) jobNode(n *policies.Node) (code, error) {
	if l.job == nil {
		return nil, fmt.Errorf("program: %s: a job node, but Lower was given no job callback", n.Path)
	}
	step, policy := l.job(n)
	l.jobs = append(l.jobs, Job{Path: n.Path, Step: step, Policy: policy})
	return one(n.Path, Instr{Op: OpJob, Job: len(l.jobs) - 1}), nil
}

func (l *lowerer) function(n *policies.Node) (code, error) {
	switch {
	case n.Expr != "" && n.JS != "":
		return nil, fmt.Errorf("program: %s: a function node has an expression or JavaScript, not both", n.Path)
	case n.JS != "":
		return one(n.Path, Instr{Op: OpFunction, JS: n.JS}), nil
	case n.Expr == "":
		return nil, fmt.Errorf("program: %s: a function node needs an expression", n.Path)
	}
	return one(n.Path, Instr{Op: OpFunction, Expr: n.Expr}), nil
}

// value is composer's literal, let({value}, () => value), in one
// instruction: nothing else could see that variable.
func (l *lowerer) value(n *policies.Node) (code, error) {
	v, err := normalize(n.Value)
	if err != nil {
		return nil, fmt.Errorf("program: %s: value: %w", n.Path, err)
	}
	return one(n.Path, Instr{Op: OpValue, Value: v}), nil
}

func (l *lowerer) set(n *policies.Node) (code, error) {
	set := make([]Assign, len(n.Set))
	for i, a := range n.Set {
		if err := userVar(n.Path, a.Var); err != nil {
			return nil, err
		}
		if a.Expr == "" {
			return nil, fmt.Errorf("program: %s: set %s: no expression", n.Path, a.Var)
		}
		set[i] = Assign{Var: a.Var, Expr: a.Expr}
	}
	return one(n.Path, Instr{Op: OpSet, Set: set}), nil
}

func (l *lowerer) dynamic(n *policies.Node) (code, error) {
	return one(n.Path, Instr{Op: OpDynamic}), nil
}

func (l *lowerer) try(n *policies.Node) (code, error) {
	c, err := l.nodes(n.Path, n.Body, n.Handler)
	if err != nil {
		return nil, err
	}
	return tryCode(n.Path, c[0], c[1]), nil
}

func (l *lowerer) finally(n *policies.Node) (code, error) {
	c, err := l.nodes(n.Path, n.Body, n.Handler)
	if err != nil {
		return nil, err
	}
	return finallyCode(n.Path, c[0], c[1]), nil
}

func (l *lowerer) let(n *policies.Node) (code, error) {
	for name := range n.Vars {
		if err := userVar(n.Path, name); err != nil {
			return nil, err
		}
	}
	vars, err := jsonMap(n.Path, "let", n.Vars)
	if err != nil {
		return nil, err
	}
	body, err := l.node(n.Body, n.Path)
	if err != nil {
		return nil, err
	}
	return letCode(n.Path, vars, body), nil
}

func (l *lowerer) mask(n *policies.Node) (code, error) {
	body, err := l.node(n.Body, n.Path)
	if err != nil {
		return nil, err
	}
	return maskCode(n.Path, body), nil
}

// userVar refuses the names a user variable cannot have: the derived
// combinators' "$" ones, and params, which is the current value.
func userVar(path, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("program: %s: a variable needs a name", path)
	case internal(name):
		return fmt.Errorf("program: %s: variable %q: names starting with $ are the combinators' own", path, name)
	case name == "params":
		return fmt.Errorf("program: %s: variable \"params\" would hide the current value", path)
	}
	return nil
}

// jsonMap copies constants out of the tree so the program shares nothing
// with it, in the form a decoded program would have.
func jsonMap(path, what string, m map[string]any) (map[string]any, error) {
	if len(m) == 0 {
		// As a decoded program has it: JSON leaves an empty map out.
		return nil, nil
	}
	v, err := normalize(m)
	if err != nil {
		return nil, fmt.Errorf("program: %s: %s: %w", path, what, err)
	}
	return v.(map[string]any), nil
}
