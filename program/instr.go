package program

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Op is what an instruction does.
type Op string

// The instructions. Most are the conductor's own (pass, empty, action,
// function, choice, try, let, exit, dynamic); job, set, value and builtin
// are wskx's.
const (
	// OpPass does nothing; it marks the start of a sequence and is the
	// landing place of forward jumps.
	OpPass Op = "pass"
	// OpEmpty is the empty composition: it only inspects the value.
	OpEmpty Op = "empty"
	// OpAction calls Action on the value laid over Params.
	OpAction Op = "action"
	// OpJob runs Program.Jobs[Job] on the value.
	OpJob Op = "job"
	// OpFunction replaces the value by Expr's, or by what the
	// JavaScript function JS gives.
	OpFunction Op = "function"
	// OpSet assigns variables; the value passes through.
	OpSet Op = "set"
	// OpValue replaces the value by a copy of Value.
	OpValue Op = "value"
	// OpChoice jumps by Then when the value's "value" field is truthy,
	// by Else otherwise.
	OpChoice Op = "choice"
	// OpTry pushes a frame whose handler is Catch away.
	OpTry Op = "try"
	// OpLet pushes a frame of variables (Let), or with Mask one that
	// hides the next frame of variables below it.
	OpLet Op = "let"
	// OpExit pops a frame.
	OpExit Op = "exit"
	// OpDynamic calls the action the value names.
	OpDynamic Op = "dynamic"
	// OpBuiltin runs a derived combinator's internal function.
	OpBuiltin Op = "builtin"
	// OpParallel, OpMap and OpAsync start branches (fork.go); OpStop
	// ends one.
	OpParallel Op = "parallel"
	OpMap      Op = "map"
	OpAsync    Op = "async"
	OpStop     Op = "stop"
)

var knownOps = map[Op]bool{
	OpPass: true, OpEmpty: true, OpAction: true, OpJob: true,
	OpFunction: true, OpSet: true, OpValue: true, OpChoice: true,
	OpTry: true, OpLet: true, OpExit: true, OpDynamic: true, OpBuiltin: true,
	OpParallel: true, OpMap: true, OpAsync: true, OpStop: true,
}

// Instr is one instruction. Jumps are relative to the instruction's own
// index, as in the conductor, so a lowered fragment can be spliced
// anywhere unchanged.
type Instr struct {
	Op   Op     `json:"op"`
	Path string `json:"path,omitempty"`
	// Next is where to go after this instruction; 0 means the next one.
	Next int `json:"next,omitempty"`
	Then int `json:"then,omitempty"`
	Else int `json:"else,omitempty"`
	// Catch is the try's handler.
	Catch int            `json:"catch,omitempty"`
	Let   map[string]any `json:"let,omitempty"`
	Mask  bool           `json:"mask,omitempty"`

	Action string         `json:"action,omitempty"`
	Params map[string]any `json:"params,omitempty"`
	Job    int            `json:"job,omitempty"`
	Expr   string         `json:"expr,omitempty"`
	JS     string         `json:"js,omitempty"`
	Set    []Assign       `json:"set,omitempty"`
	Value  any            `json:"value,omitempty"`

	Builtin string `json:"builtin,omitempty"`
	Var     string `json:"var,omitempty"`

	// Tasks are a parallel's branch entries and Return where its parent
	// goes on, relative; Join is a fan-out's join ("" for the workflow's).
	Tasks  []int  `json:"tasks,omitempty"`
	Return int    `json:"return,omitempty"`
	Join   string `json:"join,omitempty"`
}

// Assign is one assignment of a set instruction.
type Assign struct {
	Var  string `json:"var"`
	Expr string `json:"expr"`
}

// Program is a lowered workflow.
type Program struct {
	Instrs []Instr `json:"instrs"`
	Jobs   []Job   `json:"jobs,omitempty"`
}

// Job is what a job instruction runs: the node's path, the step action
// that runs it and its policy, as the lowering's caller gave them.
type Job struct {
	Path   string          `json:"path"`
	Step   string          `json:"step"`
	Policy json.RawMessage `json:"policy,omitempty"`
}

// step is where control goes after in when nothing jumps.
func (in *Instr) step() int {
	if in.Next == 0 {
		return 1
	}
	return in.Next
}

// Encode writes p as JSON.
func Encode(p *Program) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// Decode reads a program Encode wrote. Unknown fields are refused: a
// program from a newer wskx must not run with parts of it ignored.
func Decode(data []byte) (*Program, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Program
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("program: decode: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("program: decode: data after the program")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks what the machine relies on: known operations with their
// operands, jumps that land inside the program or just past its end (the
// end of the run), and job indices that name a job.
func (p *Program) Validate() error {
	n := len(p.Instrs)
	for i := range p.Instrs {
		in := &p.Instrs[i]
		bad := func(format string, args ...any) error {
			where := fmt.Sprintf("instruction %d (%s)", i, in.Op)
			if in.Path != "" {
				where = fmt.Sprintf("instruction %d (%s at %s)", i, in.Op, in.Path)
			}
			return fmt.Errorf("program: %s: %s", where, fmt.Sprintf(format, args...))
		}
		jump := func(name string, rel int) error {
			if t := i + rel; t < 0 || t > n {
				return bad("%s %+d lands at %d, outside 0..%d", name, rel, t, n)
			}
			return nil
		}
		if !knownOps[in.Op] {
			return bad("unknown operation")
		}
		if err := jump("next", in.step()); err != nil {
			return err
		}
		switch in.Op {
		case OpChoice:
			// A zero jump would be the conductor's undefined: a choice
			// that spins on itself.
			if in.Then == 0 || in.Else == 0 {
				return bad("needs both then and else")
			}
			if err := jump("then", in.Then); err != nil {
				return err
			}
			if err := jump("else", in.Else); err != nil {
				return err
			}
		case OpTry:
			if in.Catch <= 0 {
				return bad("catch must jump forward, got %d", in.Catch)
			}
			if err := jump("catch", in.Catch); err != nil {
				return err
			}
		case OpLet:
			if in.Mask && in.Let != nil {
				return bad("a mask has no variables")
			}
		case OpAction:
			if in.Action == "" {
				return bad("no action name")
			}
		case OpParallel, OpMap, OpAsync:
			if in.Return <= 0 {
				return bad("return must jump forward, got %d", in.Return)
			}
			if err := jump("return", in.Return); err != nil {
				return err
			}
			for _, t := range in.Tasks {
				if t <= 0 || t >= in.Return {
					return bad("a branch at %+d lies outside the fan-out (return %+d)", t, in.Return)
				}
			}
		case OpJob:
			if in.Job < 0 || in.Job >= len(p.Jobs) {
				return bad("job %d, but the program has %d", in.Job, len(p.Jobs))
			}
		case OpFunction:
			expr, js := strings.TrimSpace(in.Expr) != "", strings.TrimSpace(in.JS) != ""
			if expr == js {
				return bad("needs an expression or JavaScript, and not both")
			}
		case OpSet:
			for _, a := range in.Set {
				if a.Var == "" || strings.TrimSpace(a.Expr) == "" {
					return bad("an assignment needs a variable and an expression")
				}
			}
		case OpBuiltin:
			b, ok := builtins[in.Builtin]
			if !ok {
				return bad("unknown builtin %q", in.Builtin)
			}
			if b.usesVar != (in.Var != "") {
				return bad("builtin %q: variable %q", in.Builtin, in.Var)
			}
			if in.Var != "" && !internal(in.Var) {
				return bad("builtin %q works on internal variables ($...), not %q", in.Builtin, in.Var)
			}
		}
	}
	return nil
}

// internal says whether a variable belongs to a derived combinator. No
// user expression can name one: CompileValue is never given them.
func internal(name string) bool { return strings.HasPrefix(name, "$") }
