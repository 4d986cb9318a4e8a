package composer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/program"
)

// Activation is what a conductor run knows of its own activation.
type Activation struct {
	ID         string
	Namespace  string
	ActionName string // fully qualified, "/ns/name"
	APIHost    string
	APIKey     string
	Deadline   time.Time
}

// Invoker starts an invocation of an action and returns its activation id
// without waiting for it to finish, and says whether an activation has
// ended (its record exists).
type Invoker interface {
	InvokeAsync(ctx context.Context, action string, params map[string]any) (string, error)
	Ended(ctx context.Context, id string) (bool, error)
}

// JoinStore is what the conductor needs of storage for fan-outs' joins
// (checkpoint.Store has it).
type JoinStore interface {
	PutJoinParent(ctx context.Context, join string, state []byte) error
	JoinParent(ctx context.Context, join string) ([]byte, error)
	CommitBranch(ctx context.Context, join string, i int, result []byte) (bool, error)
	Branches(ctx context.Context, join string) (map[int][]byte, error)
	ClaimJoin(ctx context.Context, join, by string) (bool, error)
	SetJoinNext(ctx context.Context, join, activation string) error
	JoinNext(ctx context.Context, join string) (string, bool, error)
	Close() error
}

// ConductorDeps are the conductor's ways out: the REST client that
// starts invocations of itself (hand-overs and fan-outs' branches), built
// from the activation's API host and key, and the storage of fan-outs'
// joins.
type ConductorDeps struct {
	Invoker func(Activation) (Invoker, error)
	Joins   func(ctx context.Context, st policies.Storage) (JoinStore, error)
	// Logger receives what an activation's log should show: the
	// invocations a conductor starts (branches, hand-overs) and what
	// JavaScript functions print or throw. Nil drops it.
	Logger *slog.Logger
}

// Conductor is the conductor role of a wskx runtime container: a
// workflow compiled once at /init and run for every conductor activation.
type Conductor struct {
	flow   *Flow
	deps   ConductorDeps
	log    *slog.Logger
	now    func() time.Time
	secret []byte
	// poll is how often a waiting join looks for its branches' results.
	poll time.Duration
}

// NewConductor compiles a conductor's code. secret is the deployment's
// (hop.SecretEnv).
func NewConductor(code Code, secret []byte, deps ConductorDeps) (*Conductor, error) {
	if code.Role != RoleConductor {
		return nil, fmt.Errorf("conductor: code is for the %q role", code.Role)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("conductor: no %s: the conductor cannot authenticate its state; deploy it with wskx deploy, which sets it", hop.SecretEnv)
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var f *Flow
	if code.Workflow != nil {
		var err error
		if f, err = NewFlow(*code.Workflow, program.WithLogger(log)); err != nil {
			return nil, fmt.Errorf("conductor: %w", err)
		}
	} else {
		// A conductor deployed before workflows: one job and its step.
		p, err := policies.Parse(code.Policy, "<conductor code>")
		if err != nil {
			return nil, fmt.Errorf("conductor: %w", err)
		}
		if f, err = SingleFlow(p, code.Step); err != nil {
			return nil, fmt.Errorf("conductor: %w", err)
		}
	}
	return &Conductor{flow: f, deps: deps, log: log, now: time.Now, secret: secret, poll: 200 * time.Millisecond}, nil
}

// Flow is the conductor's compiled workflow.
func (c *Conductor) Flow() *Flow { return c.flow }

func (c *Conductor) env(act Activation) Env {
	return Env{Flow: c.flow, Secret: c.secret, Now: c.now(), NewID: uuid.NewString, Activation: act.ID}
}

// joinMargin is how long before its deadline a waiting conductor hands
// its wait to a new invocation.
const joinMargin = 5 * time.Second

// Run decides one conductor activation, carries out what the decision
// asks of the world (hand-overs, fan-outs, joins), and returns its result.
func (c *Conductor) Run(ctx context.Context, params map[string]any, act Activation) (map[string]any, error) {
	d := Decide(c.env(act), params)
	for {
		switch {
		case d.Handoff != nil:
			id, err := c.invokeSelf(ctx, act, d.Handoff)
			if err != nil {
				return d.HandoffFailed(err), nil
			}
			return d.HandoffResult(id, c.now()), nil
		case d.Commit != nil:
			return c.commit(ctx, act, d), nil
		case d.Fork != nil:
			next, res := c.fork(ctx, act, d)
			if res != nil {
				return res, nil
			}
			d = next
		default:
			return d.Result, nil
		}
	}
}

func (c *Conductor) invokeSelf(ctx context.Context, act Activation, input map[string]any) (string, error) {
	if c.deps.Invoker == nil {
		return "", fmt.Errorf("no API client is configured")
	}
	inv, err := c.deps.Invoker(act)
	if err != nil {
		return "", err
	}
	id, err := inv.InvokeAsync(ctx, act.ActionName, input)
	if err != nil {
		return "", fmt.Errorf("invoke %s: %w", act.ActionName, err)
	}
	return id, nil
}

func (c *Conductor) joins(ctx context.Context) (JoinStore, error) {
	if c.deps.Joins == nil {
		return nil, fmt.Errorf("no storage is configured for joins")
	}
	return c.deps.Joins(ctx, c.flow.Storage)
}

// fork starts a fan-out's branches and, for a join, waits or hands the
// wait over. It returns the next decision, or the activation's result.
func (c *Conductor) fork(ctx context.Context, act Activation, d Decision) (Decision, map[string]any) {
	fk := d.Fork
	failed := func(err error) (Decision, map[string]any) {
		st := d.handed
		return Decision{}, fail(st.Job, "fork", fmt.Sprintf("the fan-out at the workflow's %s could not start: %v; invoke the conductor with its parameters again", fk.ID, err)).Result
	}
	var store JoinStore
	var got map[int][]byte // values a handoff's branches left before
	if !fk.Async {
		var err error
		if store, err = c.joins(ctx); err != nil {
			return failed(err)
		}
		defer store.Close()
		if fk.Join == policies.JoinHandoff && !fk.Await {
			// The same workflow key met this join before, and it went on:
			// this invocation's result is where it went.
			if next, ok, err := store.JoinNext(ctx, fk.ID); err == nil && ok {
				s := accountOf(d.handed, c.now(), d.single)
				s.Join, s.Continued = fk.ID, next
				return Decision{}, map[string]any{"params": map[string]any{hop.StateKey: s}}
			}
			// The same key met this join before and it did not go on: a
			// branch was lost (nobody watches a handed-over fan-out). The
			// branches that left their values are not run again.
			if got, err = store.Branches(ctx, fk.ID); err != nil {
				return failed(err)
			}
			if len(got) >= fk.Count {
				// Every value is there and no branch went on: go on here.
				return Decision{}, c.goOnFromJoin(ctx, act, store, fk.ID, fk.Count, got, d.handed.Key, true)
			}
			// Before any branch starts: the last one to end reads it.
			if err := store.PutJoinParent(ctx, fk.ID, []byte(fk.Parent)); err != nil {
				return failed(err)
			}
		}
	}
	ids := fk.IDs
	if !fk.Await {
		ids = make([]string, len(fk.Branches))
		for k, b := range fk.Branches {
			if _, done := got[k]; done {
				continue
			}
			id, err := c.invokeSelf(ctx, act, b)
			if err != nil {
				return failed(err)
			}
			// As composer's conductor does, the log names every branch, so
			// that a reader of this activation can find them.
			c.log.Info("branch started", "fork", fk.ID, "join", fk.Join, "branch", k, "of", len(fk.Branches), "activation", id)
			ids[k] = id
		}
	}
	if fk.Async {
		return AfterAsync(c.env(act), fk.Parent, ids[0]), nil
	}
	if fk.Join == policies.JoinHandoff {
		s := accountOf(d.handed, c.now(), d.single)
		s.Join, s.Branches = fk.ID, slices.DeleteFunc(ids, func(id string) bool { return id == "" })
		return Decision{}, map[string]any{"params": map[string]any{hop.StateKey: s}}
	}
	start := c.now()
	values, err := c.await(ctx, act, store, fk, ids)
	waited := c.now().Sub(start).Milliseconds()
	if err != nil {
		return failed(err)
	}
	if values == nil {
		// Out of time: a new invocation waits on, and can start again
		// the branches that get lost meanwhile.
		input, err := WaitInput(c.env(act), fk.Parent, fk.Branches, ids, waited)
		if err != nil {
			return failed(err)
		}
		id, err := c.invokeSelf(ctx, act, input)
		if err != nil {
			return failed(err)
		}
		s := accountOf(d.handed, c.now(), d.single)
		s.Continued = id
		return Decision{}, map[string]any{"params": map[string]any{hop.StateKey: s}}
	}
	return AfterJoin(c.env(act), fk.Parent, values, waited), nil
}

// await polls the join until every branch's value is there; nil values
// when the activation's time runs out first. A branch whose invocation
// ended without leaving its value (its conductor crashed, or the
// platform lost it) is started again, up to branchRetries times; its
// value is created once whatever runs it.
func (c *Conductor) await(ctx context.Context, act Activation, store JoinStore, fk *Fork, ids []string) ([]map[string]any, error) {
	retries := make([]int, len(ids))
	for polls := 1; ; polls++ {
		got, err := store.Branches(ctx, fk.ID)
		if err != nil {
			return nil, err
		}
		if len(got) >= fk.Count {
			return decodeValues(got, fk.Count)
		}
		if !act.Deadline.IsZero() && c.now().Add(joinMargin+c.poll).After(act.Deadline) {
			return nil, nil
		}
		if polls%branchCheckEvery == 0 && len(ids) == len(fk.Branches) {
			if err := c.restartLost(ctx, act, store, fk, ids, retries); err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(c.poll):
		}
	}
}

// branchRetries bounds the restarts of a branch whose invocation ended
// without its value; branchCheckEvery is how many polls apart the waiting
// parent looks.
const (
	branchRetries    = 2
	branchCheckEvery = 10
)

// restartLost starts again the branches whose invocations ended without
// leaving their values.
func (c *Conductor) restartLost(ctx context.Context, act Activation, store JoinStore, fk *Fork, ids []string, retries []int) error {
	inv, err := c.deps.Invoker(act)
	if err != nil {
		return err
	}
	for k, id := range ids {
		if id == "" {
			continue
		}
		ended, err := inv.Ended(ctx, id)
		if err != nil || !ended {
			continue
		}
		// Ended: its value is there now, or it never will be.
		got, err := store.Branches(ctx, fk.ID)
		if err != nil {
			return err
		}
		if _, ok := got[k]; ok {
			continue
		}
		if retries[k] >= branchRetries {
			return fmt.Errorf("branch %d ended %d times without its value (last activation %s)", k, retries[k]+1, id)
		}
		retries[k]++
		lost := id
		if ids[k], err = inv.InvokeAsync(ctx, act.ActionName, fk.Branches[k]); err != nil {
			return err
		}
		c.log.Warn("branch restarted", "fork", fk.ID, "branch", k, "lost", lost, "activation", ids[k])
	}
	return nil
}

func decodeValues(got map[int][]byte, n int) ([]map[string]any, error) {
	out := make([]map[string]any, n)
	for i := range n {
		b, ok := got[i]
		if !ok {
			return nil, fmt.Errorf("branch %d's value is missing", i)
		}
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, fmt.Errorf("branch %d's value is damaged: %w", i, err)
		}
	}
	return out, nil
}

// commit stores a branch's value in its join, once; with join: handoff,
// the branch that finds every value there and wins the claim goes on with
// the workflow in a new invocation.
func (c *Conductor) commit(ctx context.Context, act Activation, d Decision) map[string]any {
	cm := d.Commit
	store, err := c.joins(ctx)
	if err == nil {
		defer store.Close()
		var body []byte
		if body, err = json.Marshal(cm.Value); err == nil {
			_, err = store.CommitBranch(ctx, cm.ID, cm.Index, body)
		}
	}
	if err != nil {
		return map[string]any{"error": errorValue("join", fmt.Sprintf("branch %d could not leave its value: %v", cm.Index, err))["error"]}
	}
	if cm.Join != policies.JoinHandoff {
		return d.Result
	}
	got, err := store.Branches(ctx, cm.ID)
	if err != nil || len(got) < cm.Count {
		return d.Result
	}
	if res := c.goOnFromJoin(ctx, act, store, cm.ID, cm.Count, got, d.handed.Key, false); res != nil {
		return res
	}
	return d.Result
}

// goOnFromJoin goes on with a handed-over fan-out whose branches all left
// their values, if this activation wins the join's claim: it invokes the
// conductor with the parent's state and the values, and answers with the
// pointer followers look for. Another activation holding the claim is
// going on already: a branch answers nil, a parent invoked again
// (parent) waits a moment for where the workflow went.
func (c *Conductor) goOnFromJoin(ctx context.Context, act Activation, store JoinStore, join string, count int, got map[int][]byte, key string, parent bool) map[string]any {
	failed := func(err error) map[string]any {
		return map[string]any{"error": errorValue("join", fmt.Sprintf("the fan-out could not go on with the workflow: %v; invoke the conductor with its parameters again", err))["error"]}
	}
	pointer := func(id string) map[string]any {
		return map[string]any{"params": map[string]any{hop.StateKey: hop.Summary{Key: key, Join: join, Continued: id}}}
	}
	won, err := store.ClaimJoin(ctx, join, act.ID)
	if err != nil {
		return failed(err)
	}
	if !won {
		if !parent {
			return nil
		}
		for range claimWaits {
			if next, ok, err := store.JoinNext(ctx, join); err == nil && ok {
				return pointer(next)
			}
			select {
			case <-ctx.Done():
				return failed(ctx.Err())
			case <-time.After(c.poll):
			}
		}
		return failed(fmt.Errorf("another activation claimed the join and has not said where the workflow went"))
	}
	state, err := store.JoinParent(ctx, join)
	if err != nil {
		return failed(err)
	}
	values, err := decodeValues(got, count)
	if err != nil {
		return failed(err)
	}
	input, err := JoinedInput(c.env(act), string(state), values, 0)
	if err != nil {
		return failed(err)
	}
	id, err := c.invokeSelf(ctx, act, input)
	if err != nil {
		return failed(err)
	}
	_ = store.SetJoinNext(ctx, join, id)
	c.log.Info("fan-out joined", "fork", join, "activation", id)
	return pointer(id)
}

// claimWaits bounds how many polls a parent invoked again waits for the
// activation that holds its join's claim to say where it went.
const claimWaits = 25
