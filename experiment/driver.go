package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

// Run is one case to run: a workload's arguments under a policy or a
// baseline, once.
type Run struct {
	Workload   string    `json:"workload"`
	Policy     string    `json:"policy"`             // policy name, or the baseline's name
	Baseline   string    `json:"baseline,omitempty"` // "" for a policy run
	Args       Case      `json:"args"`
	Repetition int       `json:"repetition"`
	Ref        PolicyRef `json:"-"` // the policy (for a baseline: the workload's first)
	Platform   Platform  `json:"-"`
}

// Result is what one run measured.
type Result struct {
	Run
	Engine  string          `json:"engine"` // the engine the hops reported
	Success bool            `json:"success"`
	Status  string          `json:"status"`
	Output  json.RawMessage `json:"output"` // the job's result object, wskx fields removed
	// Workflow says the run was a workflow's (or the composer
	// baseline's): a composition of actions and jobs.
	Workflow bool `json:"workflow,omitempty"`
	// Blocking says the run was started as a blocking invoke, and Direct
	// that this call returned the workflow's final result, as invoking a
	// plain action would.
	Blocking    bool    `json:"blocking,omitempty"`
	Direct      bool    `json:"direct,omitempty"`
	ElapsedMS   int64   `json:"elapsed_ms"`
	Invocations int     `json:"invocations"` // top-level invocations (conductor or step)
	Metrics     Metrics `json:"metrics"`
	Error       string  `json:"error,omitempty"`
}

// Driver runs cases on some OpenWhisk.
type Driver interface {
	Run(ctx context.Context, r Run) (Result, error)
}

// Platform driver defaults.
const (
	singleTimeout = 300 * time.Second
	pollEvery     = 300 * time.Millisecond
	// selfInvokeGrace is how long the self-invoke baseline is watched
	// after a final result for duplicates still on their way.
	selfInvokeGrace = 5 * time.Second
)

// OpenWhisk drives runs through the REST API of an OpenWhisk (the
// built-in platform among them), with checkpoints in file storage under
// Dir, which the step actions must be able to reach.
type OpenWhisk struct {
	API       chain.API
	Namespace string // "_" by default
	Dir       string // run directory: checkpoint store and job folders
	// Composer is what the composer baseline runs with; nil when the
	// experiment has none.
	Composer *ComposerBaseline
}

// policy loads the run's policy with the experiment's overrides applied.
func (o *OpenWhisk) policy(r Run) (*policies.Policy, error) {
	p, err := policies.Load(r.Ref.File)
	if err != nil {
		return nil, err
	}
	ov, err := o.overrides(r)
	if err != nil {
		return nil, err
	}
	return p.With(ov, r.Ref.File+" (with the experiment's overrides)")
}

func (o *OpenWhisk) namespace() string {
	if o.Namespace == "" {
		return "_"
	}
	return o.Namespace
}

// overrides are what the experiment changes in a run's policy or in
// every job of its workflow: the platform's limits, the policy's
// settings in the experiment file, storage under Dir, and a name of the
// run's own.
func (o *OpenWhisk) overrides(r Run) (policies.Overrides, error) {
	store := filepath.Join(o.Dir, "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return policies.Overrides{}, fmt.Errorf("experiment: %w", err)
	}
	ov := policies.Overrides{
		Timeout: r.Platform.Timeout, Memory: r.Platform.Memory, Engine: r.Ref.Engine,
		Margin: r.Ref.Margin, Interval: r.Ref.Interval,
		StorageURL: "file://" + store, Dir: filepath.Join(o.Dir, "jobs"),
	}
	if r.Ref.Timeout > 0 {
		ov.Timeout = r.Ref.Timeout
	}
	if r.Baseline == BaselineSingle {
		ov.Engine, ov.Timeout, ov.NoCheckpoint, ov.Margin, ov.Interval = policies.EngineNone, singleTimeout, true, "", 0
	}
	name := fmt.Sprintf("x-%s-%s", r.Workload, r.Policy)
	ov.Name = strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			return c
		}
		return '-'
	}, name)
	return ov, nil
}

// Run deploys the run's actions, runs it and measures it.
func (o *OpenWhisk) Run(ctx context.Context, r Run) (Result, error) {
	res := Result{Run: r}
	var job Job
	var err error
	switch {
	case r.Baseline == BaselineComposer:
		job, err = o.runComposer(ctx, r, &res)
	case r.Ref.Workflow:
		job, err = o.runWorkflow(ctx, r, &res)
	default:
		return o.runJob(ctx, r)
	}
	res.Workflow = true
	if err != nil {
		return res, fmt.Errorf("experiment %s/%s: %w", r.Workload, r.Policy, err)
	}
	res.Metrics = Measure(job)
	for _, a := range job.Records {
		if rep, ok := Report(a); ok && rep.Engine != "" {
			res.Engine = rep.Engine
		}
	}
	return res, nil
}

// runJob runs a single job's policy or one of its baselines.
func (o *OpenWhisk) runJob(ctx context.Context, r Run) (Result, error) {
	res := Result{Run: r}
	p, err := o.policy(r)
	if err != nil {
		return res, fmt.Errorf("experiment %s/%s: %w", r.Workload, r.Policy, err)
	}
	opts := composer.Options{Namespace: o.namespace()}
	if r.Baseline == BaselineSelfInvoke {
		// The baseline is a kind of step action, made here; no request
		// can turn a chain's step into it.
		opts.Baseline = composer.BaselineSelfInvoke
	}
	plan, err := composer.Compile(p, opts)
	if err != nil {
		return res, fmt.Errorf("experiment: %w", err)
	}
	if err := chain.Deploy(ctx, o.API, plan); err != nil {
		return res, fmt.Errorf("experiment: %w", err)
	}
	since := time.Now().Add(-time.Second).UnixMilli()
	start := time.Now()
	var recs []whisk.Activation
	job := Job{Conductor: plan.Conductor.Name}
	switch r.Baseline {
	case "":
		recs, err = o.runChain(ctx, plan, r, since, &res)
	case BaselineSingle:
		recs, err = o.runSteps(ctx, plan, r, since, "", &res)
		job.Conductor = ""
	case BaselineSelfInvoke:
		recs, err = o.runSteps(ctx, plan, r, since, "self-invoke", &res)
		job.Conductor = ""
	default:
		err = fmt.Errorf("unknown baseline %q", r.Baseline)
	}
	res.ElapsedMS = time.Since(start).Milliseconds()
	if err != nil {
		return res, fmt.Errorf("experiment %s/%s: %w", r.Workload, r.Policy, err)
	}
	if r.Baseline == BaselineSelfInvoke {
		// Not the grace period spent watching for late duplicates: up to
		// the end of the last step.
		var last int64
		for _, a := range recs {
			last = max(last, a.End)
		}
		res.ElapsedMS = last - start.UnixMilli()
	}
	job.Records = recs
	res.Metrics = Measure(job)
	for _, a := range recs {
		if rep, ok := Report(a); ok && rep.Engine != "" {
			res.Engine = rep.Engine
		}
	}
	return res, nil
}

// runChain invokes the conductor and follows the chain to its end.
func (o *OpenWhisk) runChain(ctx context.Context, plan *composer.Plan, r Run, since int64, res *Result) ([]whisk.Activation, error) {
	inv, err := o.API.Invoke(ctx, plan.Conductor.Name, map[string]any(r.Args), whisk.InvokeOptions{})
	if err != nil {
		return nil, err
	}
	comp, err := chain.CompositionOf(plan)
	if err != nil {
		return nil, err
	}
	out, err := chain.Follow(ctx, o.API, comp, inv.ActivationID, pollEvery, nil)
	if err != nil {
		return nil, err
	}
	res.Invocations = len(out.Invocations)
	res.Success, res.Status = out.Success, out.Status
	res.Output = cleanResult(out.Result)
	all, err := o.list(ctx, since)
	if err != nil {
		return nil, err
	}
	var recs []whisk.Activation
	for _, a := range all {
		if slices.Contains(out.Invocations, a.ActivationID) || slices.Contains(out.Invocations, a.Cause) {
			recs = append(recs, a)
		}
	}
	return recs, nil
}

// runSteps invokes the step action directly: once for the single
// baseline, or as the first hop of a self-invoking chain.
func (o *OpenWhisk) runSteps(ctx context.Context, plan *composer.Plan, r Run, since int64, mode string, res *Result) ([]whisk.Activation, error) {
	id := uuid.NewString()
	params := hop.WithRequest(r.Args, hop.Request{Job: id, Key: id, Hop: 1, Attempt: 1, Started: time.Now().UnixMilli()})
	inv, err := o.API.Invoke(ctx, plan.Steps[0].Name, params, whisk.InvokeOptions{})
	if err != nil {
		return nil, err
	}
	res.Invocations = 1
	var lastNew time.Time
	seen := map[string]bool{}
	var recs []whisk.Activation
	for {
		if mode == "" {
			a, err := o.API.GetActivation(ctx, inv.ActivationID)
			if err == nil {
				recs = []whisk.Activation{*a}
				break
			}
			if !whisk.IsNotFound(err) {
				return nil, err
			}
		} else {
			all, err := o.list(ctx, since)
			if err != nil {
				return nil, err
			}
			for _, a := range all {
				rep, ok := Report(a)
				if seen[a.ActivationID] || (a.ActivationID != inv.ActivationID && (!ok || rep.Job != id)) {
					continue
				}
				seen[a.ActivationID] = true
				recs = append(recs, a)
				lastNew = time.Now()
			}
			// Done once a hop ended without handing on (done or failed)
			// and nothing new turned up for the grace period.
			if ended(recs) && time.Since(lastNew) > selfInvokeGrace {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
	slices.SortFunc(recs, func(a, b whisk.Activation) int { return int(a.Start - b.Start) })
	final := recs[len(recs)-1]
	for _, a := range recs {
		if rep, ok := Report(a); ok && rep.Status == hop.Done {
			final = a
			break
		}
	}
	res.Success, res.Status = final.Response.Success, final.Response.Status
	if rep, ok := Report(final); ok && rep.Status != hop.Done {
		res.Success = false
	}
	res.Output = cleanResult(final.Response.Result)
	return recs, nil
}

// ended says whether some hop ended without handing on to another.
func ended(recs []whisk.Activation) bool {
	for _, a := range recs {
		rep, ok := Report(a)
		if !ok || rep.Status != hop.Checkpointed {
			return true
		}
	}
	return false
}

// list returns every activation record since the given time.
func (o *OpenWhisk) list(ctx context.Context, since int64) ([]whisk.Activation, error) {
	const page = 200
	var all []whisk.Activation
	for skip := 0; ; skip += page {
		recs, err := o.API.ListActivations(ctx, whisk.ActivationListOptions{Since: since, Docs: true, Limit: page, Skip: skip})
		if err != nil {
			return nil, fmt.Errorf("list activations: %w", err)
		}
		all = append(all, recs...)
		if len(recs) < page {
			return all, nil
		}
	}
}

// cleanResult drops wskx's own fields from a result, leaving the job's
// output, so that results of different policies compare.
func cleanResult(raw json.RawMessage) json.RawMessage {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	delete(m, hop.StepKey)
	delete(m, hop.StateKey)
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}
