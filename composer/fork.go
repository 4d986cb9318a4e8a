package composer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/program"
)

// Fork is a fan-out for the conductor's caller to carry out: start the
// branches, each an invocation of this conductor, then go on at once
// (async: AfterAsync), wait for their results in storage (join: wait:
// AfterJoin), or store the parent's state and end, for the last branch to
// go on with it (join: handoff: JoinedInput).
type Fork struct {
	ID       string           // the join's name in storage
	Branches []map[string]any // the branch invocations' inputs
	Async    bool
	Join     string // policies.JoinWait or policies.JoinHandoff
	Count    int    // branches to wait for
	// Parent is the parent's sealed state, to go on with once the branches
	// are done; Await says its branches were started already (a wait
	// handed to a new invocation at the conductor's time limit), as the
	// activations IDs, one per branch ("" where unknown).
	Parent string
	Await  bool
	IDs    []string
}

// Commit is a branch's end: its value, to commit to its join.
type Commit struct {
	ID    string
	Index int
	Count int
	Join  string
	Value map[string]any
}

// branchOf says which branch of which fan-out an invocation runs.
type branchOf struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
	Count int    `json:"count"`
	Join  string `json:"join"`
	Async bool   `json:"async,omitempty"`
}

// forkID names a fork in storage: the workflow's key and the fork's place
// in the run, hashed into a name any bucket takes.
func forkID(key, fork string) string {
	sum := sha256.Sum256([]byte(key + "\x00" + fork))
	return "f" + hex.EncodeToString(sum[:12])
}

// fork turns the program's fork event into the fan-out to carry out.
func fork(e Env, st carried, ev program.Event) Decision {
	f := e.Flow
	mode := ev.Join
	if mode == "" {
		mode = f.Join
	}
	fk := &Fork{ID: forkID(st.Key, ev.ForkID), Async: ev.Async, Join: mode, Count: len(ev.Branches)}
	for k, b := range ev.Branches {
		bst := carried{Key: st.Key, Chain: st.Chain, Started: e.Now.UnixMilli(), Invocation: 1, Machine: b.State,
			Branch: &branchOf{ID: fk.ID, Index: k, Count: fk.Count, Join: mode, Async: ev.Async}, Issued: e.Now.UnixMilli()}
		token, err := hop.Seal(e.Secret, hop.PurposeBranch, bst)
		if err != nil {
			return fail(nil, "state", err.Error())
		}
		input := maps.Clone(b.Params)
		if input == nil {
			input = map[string]any{}
		}
		input[hop.StateKey] = token
		fk.Branches = append(fk.Branches, input)
	}
	st.Pending = nil
	st.Waiting = &forkRef{ID: fk.ID, Count: fk.Count}
	st.Issued = e.Now.UnixMilli()
	token, err := hop.Seal(e.Secret, hop.PurposeFork, st)
	if err != nil {
		return fail(nil, "state", err.Error())
	}
	fk.Parent = token
	return Decision{Fork: fk, handed: st, single: f.Single}
}

// openParent reads a fork's parent state. It comes from this conductor
// (in memory) or from the join's storage, never from a caller, and may
// wait as long as the branches take, so its age is not checked.
func openParent(e Env, token string) (carried, error) {
	var st carried
	if err := hop.Open(e.Secret, hop.PurposeFork, token, &st); err != nil {
		return st, fmt.Errorf("the fan-out's parent state does not verify: %w", err)
	}
	return st, nil
}

// AfterAsync goes on with the parent of an async branch that was started
// as activation id, as composer's conductor does.
func AfterAsync(e Env, parent, id string) Decision {
	st, err := openParent(e, parent)
	if err != nil {
		return fail(nil, "state", err.Error())
	}
	ev, err := e.Flow.machine.Resume(&st.Machine, map[string]any{"method": "async", "activationId": id, "sessionId": st.Chain})
	return drive(e, st, ev, err)
}

// AfterJoin goes on with a fan-out's parent in the activation that waited
// for the branches, with their values in order.
func AfterJoin(e Env, parent string, values []map[string]any, waited int64) Decision {
	st, err := openParent(e, parent)
	if err != nil {
		return fail(nil, "state", err.Error())
	}
	st.WaitMS += waited
	return joined(e, st, values)
}

func joined(e Env, st carried, values []map[string]any) Decision {
	list := make([]any, len(values))
	for i, v := range values {
		list[i] = v
	}
	ev, err := e.Flow.machine.Resume(&st.Machine, map[string]any{"value": list})
	return drive(e, st, ev, err)
}

// JoinedInput is the input of the invocation that goes on with a fan-out's
// parent once every branch is done (join: handoff).
func JoinedInput(e Env, parent string, values []map[string]any, waited int64) (map[string]any, error) {
	return handedInput(e, parent, pending{Joined: values}, waited)
}

// maxCarriedBranches bounds the branch inputs a handed-over wait carries
// to restart lost branches with: the input is an invocation's parameters,
// which OpenWhisk limits to 1 MB. Past it the wait goes on without them.
const maxCarriedBranches = 512 << 10

// WaitInput is the input of the invocation that goes on with a waiting
// parent whose time ran out: the branches it started, as their inputs and
// activations, so that it can start again one that gets lost.
func WaitInput(e Env, parent string, branches []map[string]any, ids []string, waited int64) (map[string]any, error) {
	w := &awaitJoin{Parent: parent, Branches: branches, IDs: ids}
	if b, err := json.Marshal(branches); err != nil || len(b) > maxCarriedBranches {
		w.Branches = nil
	}
	return handedInput(e, parent, pending{Await: w}, waited)
}

func handedInput(e Env, parent string, p pending, waited int64) (map[string]any, error) {
	st, err := openParent(e, parent)
	if err != nil {
		return nil, err
	}
	st.WaitMS += waited
	st.Pending = &p
	st.Components = 0
	st.Issued = e.Now.UnixMilli()
	if e.Activation != "" {
		st.Previous = append(st.Previous, e.Activation)
	}
	token, err := hop.Seal(e.Secret, hop.PurposeHandoff, st)
	if err != nil {
		return nil, err
	}
	return map[string]any{hop.StateKey: token}, nil
}

// forkRef names the fan-out a parent waits for.
type forkRef struct {
	ID    string `json:"id"`
	Count int    `json:"count"`
}

// awaitJoin is a join wait carried to a new invocation: the parent, and
// the branches' inputs and activations (to start again one that ended
// without its value).
type awaitJoin struct {
	Parent   string           `json:"parent"`
	Branches []map[string]any `json:"branches,omitempty"`
	IDs      []string         `json:"ids,omitempty"`
}

// goOn starts an invocation that a join handed its workflow: with the
// branches' values, or with the wait for them.
func goOn(e Env, st carried, p pending) Decision {
	if p.Await != nil {
		parent, err := openParent(e, p.Await.Parent)
		if err != nil {
			return fail(nil, "state", err.Error())
		}
		if parent.Waiting == nil {
			return fail(nil, "state", "the handed-over wait names no fan-out")
		}
		fk := &Fork{Await: true, Join: policies.JoinWait, Parent: p.Await.Parent, ID: parent.Waiting.ID, Count: parent.Waiting.Count,
			Branches: p.Await.Branches, IDs: p.Await.IDs}
		return Decision{Fork: fk, handed: st, single: e.Flow.Single}
	}
	return joined(e, st, p.Joined)
}

// branchEnd ends a branch's run: an async branch's value is its own
// result; a joined branch's goes to its join too.
func branchEnd(e Env, st carried, value map[string]any) Decision {
	b := st.Branch
	res := finishResult(e, st, value)
	if b.Async {
		return Decision{Result: res}
	}
	return Decision{Result: res, Commit: &Commit{ID: b.ID, Index: b.Index, Count: b.Count, Join: b.Join, Value: value}, handed: st, single: e.Flow.Single}
}
