package program

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/wskx/wskx/policies"
)

// Fan-outs. A parallel, map or async instruction starts branches, each a
// run of the same program from its own entry, as composer's conductor
// invokes itself for each; a branch ends at a stop. The layouts are the
// conductor's:
//
//	parallel: [parallel tasks=[1, 1+len(t1)+1, ...] return] t1 stop t2 stop ... pass
//	map:      [map return] body stop pass
//	async:    [async return] body stop pass
//
// The machine only says which branches to start and where each begins;
// starting them and waiting for them is the caller's.

// Branch is one branch to start: a run of its own, and its input.
type Branch struct {
	State  State
	Params map[string]any
}

func (l *lowerer) parallel(n *policies.Node) (code, error) {
	tasks, err := l.nodes(n.Path, n.Components...)
	if err != nil {
		return nil, err
	}
	head := Instr{Op: OpParallel, Join: n.Join}
	out := code{}
	offset := 1
	for _, t := range tasks {
		head.Tasks = append(head.Tasks, offset)
		t = append(t, Instr{Op: OpStop, Path: n.Path})
		out = append(out, t...)
		offset += len(t)
	}
	head.Return = offset
	out = append(one(n.Path, head), out...)
	return append(out, Instr{Op: OpPass, Path: n.Path}), nil
}

func (l *lowerer) mapNode(n *policies.Node) (code, error) {
	return l.branchOf(n, OpMap)
}

func (l *lowerer) async(n *policies.Node) (code, error) {
	return l.branchOf(n, OpAsync)
}

// branchOf lays out map's and async's one body.
func (l *lowerer) branchOf(n *policies.Node, op Op) (code, error) {
	body, err := l.node(n.Body, n.Path)
	if err != nil {
		return nil, err
	}
	out := one(n.Path, Instr{Op: op, Return: len(body) + 2, Join: n.Join})
	out = append(out, body...)
	return append(out, Instr{Op: OpStop, Path: n.Path}, Instr{Op: OpPass, Path: n.Path}), nil
}

// fork starts the branches of the fan-out at instruction i: the parent's
// pc moves to where it goes on, and each branch starts at its entry with
// a copy of the parent's stack under a marker. started is false when
// there is no branch to start (a map over an empty list, a parallel of
// nothing), and the parent goes on at once.
func (m *Machine) fork(st *State, i int, in *Instr, params map[string]any) (Event, bool, error) {
	forks := maps.Clone(st.Forks)
	if forks == nil {
		forks = map[int]int{}
	}
	forks[i]++
	st.Forks = forks
	id := st.Branch + strconv.Itoa(i) + "." + strconv.Itoa(forks[i])
	st.PC = i + in.Return

	var entries []int
	var inputs []map[string]any
	switch in.Op {
	case OpParallel:
		for _, t := range in.Tasks {
			v, err := normalize(params)
			if err != nil {
				return Event{}, false, fmt.Errorf("program: internal error at %s: %w", in.Path, err)
			}
			entries, inputs = append(entries, i+t), append(inputs, v.(map[string]any))
		}
	case OpMap:
		raw, ok := params["value"]
		if !ok || raw == nil {
			break
		}
		list, ok := raw.([]any)
		if !ok {
			// The conductor's array.map on something else throws: an
			// internal error there too.
			return Event{}, false, fmt.Errorf("program: map at %s needs a list in value, got %T", in.Path, raw)
		}
		for _, e := range list {
			v, err := normalize(e)
			if err != nil {
				return Event{}, false, fmt.Errorf("program: internal error at %s: %w", in.Path, err)
			}
			obj, isObj := v.(map[string]any)
			if !isObj {
				obj = map[string]any{"value": v}
			}
			entries, inputs = append(entries, i+1), append(inputs, obj)
		}
	case OpAsync:
		v, err := normalize(params)
		if err != nil {
			return Event{}, false, fmt.Errorf("program: internal error at %s: %w", in.Path, err)
		}
		entries, inputs = []int{i + 1}, []map[string]any{v.(map[string]any)}
	}
	if len(entries) == 0 {
		return Event{}, false, nil
	}
	ev := Event{Kind: Fork, Async: in.Op == OpAsync, ForkID: id, Join: in.Join, Path: in.Path}
	for k, pc := range entries {
		stack := append([]Frame{{Marker: true}}, cloneStack(st.Stack)...)
		ev.Branches = append(ev.Branches, Branch{
			State: State{PC: pc, Stack: stack, Visits: maps.Clone(st.Visits), Forks: maps.Clone(st.Forks),
				Branch: id + "." + strconv.Itoa(k) + "/"},
			Params: inputs[k],
		})
	}
	return ev, true, nil
}

// cloneStack copies frames deeply enough that a branch's assignments
// never reach its parent's variables.
func cloneStack(stack []Frame) []Frame {
	out := slices.Clone(stack)
	for i := range out {
		if out[i].Let != nil {
			v, err := normalize(out[i].Let)
			if err == nil {
				out[i].Let, _ = v.(map[string]any)
			}
		}
	}
	return out
}

// Enter starts a branch's run on its input: as composer's conductor does
// for a branch invocation, the input is not inspected.
func (m *Machine) Enter(st *State, params map[string]any) (Event, error) {
	n := len(m.prog.Instrs)
	if st.PC < 0 || st.PC > n {
		return Event{}, fmt.Errorf("program: internal error: the branch's pc %d is outside 0..%d", st.PC, n)
	}
	if params == nil {
		params = map[string]any{}
	}
	return m.run(st, params)
}
