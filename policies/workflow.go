package policies

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Workflow is a loaded composition: a tree of nodes, some of which are
// long jobs with policies of their own. A single-job policy file loads as
// a workflow of one job node (Single), whose key is the job's own.
type Workflow struct {
	Name        string
	Description string
	// Params are default input parameters of the whole workflow, under an
	// invocation's.
	Params map[string]any
	// IdempotencyKey is a string expression of params naming one workflow
	// instance; "" generates a key per invocation. Job nodes derive their
	// keys from it and their place in the tree.
	IdempotencyKey string
	// LengthLimit is the platform's composition component limit: the
	// conductor hands the workflow to a new invocation before passing it.
	LengthLimit   int
	OnLengthLimit string // continue or fail
	Root          *Node
	// Join is how the workflow's parallel and map nodes wait for their
	// branches unless a node says otherwise: JoinWait or JoinHandoff.
	Join string
	// Storage is where fan-outs' branches leave their results (a job's
	// checkpoints go where its own policy says).
	Storage Storage
	// Actions are ordinary actions the file defines, deployed with the
	// workflow under their own names.
	Actions []Action
	Source  string
	// Single marks a workflow read from a single-job policy file: its
	// root is the job node, and the workflow's key is the job's.
	Single bool

	key *KeyExpr
}

// Action is an ordinary action a workflow file defines.
type Action struct {
	Name    string
	Kind    string // an OpenWhisk runtime kind; from the file's extension by default
	File    string // where the code was read from
	Code    string
	Params  map[string]any
	Timeout time.Duration // 0: the platform's default
	Memory  int           // 0: the platform's default
}

// Kinds of the files an action's code may be, by extension.
var actionKinds = map[string]string{".js": "nodejs:default", ".py": "python:default", ".swift": "swift:default", ".php": "php:default"}

// MaxActionCode is OpenWhisk's default limit on an action's code (48 MB).
const MaxActionCode = 48 << 20

// Kind is a node's combinator.
type Kind string

// The combinators of a workflow file, aliases resolved (seq is
// KindSequence, literal is KindValue, retain with catch is
// KindRetainCatch). Where a name matches openwhisk-composer's, the
// semantics are its.
const (
	KindEmpty       Kind = "empty"
	KindAction      Kind = "action"
	KindJob         Kind = "job"
	KindFunction    Kind = "function"
	KindValue       Kind = "value"
	KindSet         Kind = "set"
	KindSequence    Kind = "sequence"
	KindIf          Kind = "if"
	KindWhile       Kind = "while"
	KindDoWhile     Kind = "dowhile"
	KindRepeat      Kind = "repeat"
	KindRetry       Kind = "retry"
	KindTry         Kind = "try"
	KindFinally     Kind = "finally"
	KindLet         Kind = "let"
	KindMask        Kind = "mask"
	KindRetain      Kind = "retain"
	KindRetainCatch Kind = "retain_catch"
	KindMerge       Kind = "merge"
	KindDynamic     Kind = "dynamic"
	KindParallel    Kind = "parallel"
	KindMap         Kind = "map"
	KindAsync       Kind = "async"
)

// Joins: how a fan-out's parent waits for its branches.
const (
	// JoinWait keeps the parent in its activation, polling for the
	// branches' results: a blocking caller gets the result, and the wait
	// is billed.
	JoinWait = "wait"
	// JoinHandoff ends the parent's activation with a pointer; the last
	// branch to finish continues the workflow in a new invocation.
	JoinHandoff = "handoff"
)

// Node is one node of a workflow tree. Which fields mean something
// depends on Kind; the rest are zero.
type Node struct {
	Kind Kind
	// Path is where the node stands in its file ("composition",
	// "composition.sequence[1].retry.do"): errors name it, and job nodes
	// derive their keys from it, so it is stable for an unchanged file.
	Path         string
	Line, Column int

	// Action is an action node's OpenWhisk action name as written (name,
	// pkg/name or /ns/pkg/name); Params are constants laid under its
	// input.
	Action string
	Params map[string]any
	// Job is a job node's policy.
	Job *Policy
	// Expr is a function node's expression; JS, instead, its JavaScript
	// (an imported openwhisk-composer composition's function: a function
	// expression called with the current value, as composer calls it).
	Expr string
	JS   string
	// Value is a value node's JSON value.
	Value any
	// Set is a set node's assignments, in the order written.
	Set []Assign
	// Vars are a let node's variables and their initial values.
	Vars map[string]any
	// Times is repeat's and retry's count.
	Times int
	// Nosave is if's, while's and dowhile's nosave flag: the branch or
	// body gets the test's result instead of the input from before it.
	Nosave bool

	// Join is a parallel or map node's join ("" for the workflow's).
	Join string

	// Components are a sequence's and a parallel's nodes.
	Components []*Node
	// Test, Then and Else are if's (Else may be nil); Test and Body are
	// while's and dowhile's.
	Test, Then, Else *Node
	// Body is what repeat, retry, try, finally, let, mask, retain,
	// retain_catch, merge, map (for each element) and async run.
	Body *Node
	// Handler is try's catch and finally's finally.
	Handler *Node
}

// Assign is one assignment of a set node.
type Assign struct {
	Var  string
	Expr string
}

// Walk calls f for n and every node below it, parents first, children in
// the order they run.
func (n *Node) Walk(f func(*Node)) {
	if n == nil {
		return
	}
	f(n)
	for _, c := range n.Components {
		c.Walk(f)
	}
	for _, c := range []*Node{n.Test, n.Then, n.Else, n.Body, n.Handler} {
		c.Walk(f)
	}
}

// Jobs lists the job nodes of the tree in the order Walk finds them.
func (w *Workflow) Jobs() []*Node {
	var out []*Node
	w.Root.Walk(func(n *Node) {
		if n.Kind == KindJob {
			out = append(out, n)
		}
	})
	return out
}

// Key evaluates the workflow's idempotency key for an invocation's
// parameters; "" when keys are generated. A single-job workflow's key is
// its job's.
func (w *Workflow) Key(params map[string]any) (string, error) {
	if w.Single {
		return w.Root.Job.IdempotencyKey(Env{Hop: 1, Attempt: 1, Timeout: w.Root.Job.Job.Timeout, Params: params})
	}
	return w.key.Eval(params)
}

// KeyExpr is a workflow's idempotency key expression, compiled once.
type KeyExpr struct {
	src      string
	prog     *vm.Program
	defaults map[string]any
}

// CompileKey compiles a workflow's key expression of params, with the
// workflow's default parameters under the invocation's. An empty source
// compiles to a key that is always "" (generated keys).
func CompileKey(src string, defaults map[string]any) (*KeyExpr, error) {
	k := &KeyExpr{src: src, defaults: defaults}
	if src == "" {
		return k, nil
	}
	prog, err := expr.Compile(src, expr.Env(map[string]any{"params": map[string]any{}}))
	if err != nil {
		return nil, err
	}
	if !typeIs(prog, reflect.TypeOf("")) {
		return nil, fmt.Errorf("expected an expression yielding a string (for example params.order_id), got %s", typeName(prog))
	}
	k.prog = prog
	return k, nil
}

// Eval is the key for an invocation's parameters.
func (k *KeyExpr) Eval(params map[string]any) (string, error) {
	if k == nil || k.prog == nil {
		return "", nil
	}
	merged := maps.Clone(k.defaults)
	if merged == nil {
		merged = map[string]any{}
	}
	maps.Copy(merged, params)
	v, err := expr.Run(k.prog, map[string]any{"params": merged})
	if err != nil {
		return "", fmt.Errorf("idempotency key: %w", err)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("idempotency key: %q yielded %v, not a non-empty string", k.src, v)
	}
	return s, nil
}

// CompileValue compiles an expression run against the current value
// (params) and the variables vars, as function and set nodes are. Any
// other name is an error, so that a misspelt variable is found when the
// file loads rather than when the workflow runs. Variables are of a type
// known only when the expression runs, like the fields of params.
func CompileValue(src string, vars []string) (*vm.Program, error) {
	// Names first: a variable named like a builtin would otherwise read
	// as a type error about a function.
	names := &identifiers{}
	if tree, err := parser.Parse(src); err == nil {
		ast.Walk(&tree.Node, names)
	}
	for _, n := range names.used {
		if n != "params" && !slices.Contains(vars, n) && !slices.Contains(names.declared, n) {
			if len(vars) == 0 {
				return nil, fmt.Errorf("unknown name %s (params is the current value; no variable is in scope)", n)
			}
			return nil, fmt.Errorf("unknown name %s (params is the current value; variables in scope: %s)", n, strings.Join(vars, ", "))
		}
	}
	return expr.Compile(src, expr.Env(map[string]any{"params": map[string]any{}}), expr.AllowUndefinedVariables())
}

// identifiers collects the names an expression reads and the ones it
// declares itself (let x = ...; x).
type identifiers struct{ used, declared []string }

func (v *identifiers) Visit(n *ast.Node) {
	switch t := (*n).(type) {
	case *ast.IdentifierNode:
		v.used = append(v.used, t.Value)
	case *ast.VariableDeclaratorNode:
		v.declared = append(v.declared, t.Name)
	}
}

// IsVarName says whether s can name a workflow variable: an identifier
// that is neither params nor one of the expression language's builtin
// functions, which it would hide.
func IsVarName(s string) bool {
	if s == "" || isValueName(s) || slices.Contains(builtin.Names, s) {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// ValueNames are the names a value expression may not use as variables.
var valueNames = []string{"params"}

// functionResult says whether a function expression's static type can be
// the next value: a map, a boolean, or a type known only when it runs.
func functionResult(prog *vm.Program) bool {
	t := prog.Node().Type()
	if t == nil || t.Kind() == reflect.Interface {
		return true
	}
	return t.Kind() == reflect.Map || t.Kind() == reflect.Bool
}

// isValueName reports a reserved name.
func isValueName(s string) bool { return slices.Contains(valueNames, s) }
