package experiment

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

// ComposerBaseline is what the composer baseline needs: openwhisk-
// composer's deploy command, the platform it deploys to, and the Redis
// its parallel and map combinators join through.
type ComposerBaseline struct {
	Node    string // the node binary
	Deploy  string // openwhisk-composer's bin/deploy.js
	APIHost string // the platform's API host, as deploy's --apihost
	Key     string // the platform's key, as deploy's --auth
	// RedisURL is given to the composition as $composer.redis.uri, the
	// way openwhisk-composer's documentation says to.
	RedisURL string
}

// branchWait bounds how long a run waits for the records of branches
// it knows of after the composition's own record.
const branchWait = 30 * time.Second

// workflow loads the run's workflow with the experiment's overrides.
func (o *OpenWhisk) workflow(r Run) (*policies.Workflow, error) {
	w, err := policies.LoadWorkflow(r.Ref.File)
	if err != nil {
		return nil, err
	}
	ov, err := o.overrides(r)
	if err != nil {
		return nil, err
	}
	ov.Join = r.Ref.Join
	out, err := w.With(ov, r.Ref.File+" (with the experiment's overrides)")
	if err != nil {
		return nil, err
	}
	out.Name = ov.Name
	return out, nil
}

// fansOut says whether a workflow has branches that run at once by design.
func fansOut(w *policies.Workflow) bool {
	found := false
	w.Root.Walk(func(n *policies.Node) {
		switch n.Kind {
		case policies.KindParallel, policies.KindMap, policies.KindAsync:
			found = true
		}
	})
	return found
}

// runWorkflow deploys and runs a workflow policy. It invokes the
// conductor blocking, as `wsk action invoke --blocking` does, and records
// whether that call returned the workflow's result (substitution), then
// follows the workflow to its end wherever it went.
func (o *OpenWhisk) runWorkflow(ctx context.Context, r Run, res *Result) (Job, error) {
	w, err := o.workflow(r)
	if err != nil {
		return Job{}, err
	}
	plan, err := composer.CompileWorkflow(w, composer.Options{Namespace: o.namespace()})
	if err != nil {
		return Job{}, err
	}
	if err := chain.Deploy(ctx, o.API, plan); err != nil {
		return Job{}, err
	}
	since := time.Now().Add(-time.Second).UnixMilli()
	start := time.Now()
	inv, err := o.API.Invoke(ctx, plan.Conductor.Name, map[string]any(r.Args), whisk.InvokeOptions{Blocking: true})
	if inv == nil {
		return Job{}, err
	}
	comp, err := chain.CompositionOf(plan)
	if err != nil {
		return Job{}, err
	}
	out, err := chain.Follow(ctx, o.API, comp, inv.ActivationID, pollEvery, nil)
	if err != nil {
		return Job{}, err
	}
	res.Success, res.Status = out.Success, out.Status
	res.Output = cleanResult(out.Result)
	res.Blocking = true
	res.Direct = !inv.Accepted && sameJSON(inv.Result, out.Result)
	recs, n, err := o.records(ctx, since, out.Invocations)
	if err != nil {
		return Job{}, err
	}
	res.Invocations = n
	res.ElapsedMS = endOf(recs, out.Invocations[len(out.Invocations)-1], start)
	return Job{Records: recs, Conductor: plan.Conductor.Name, Parallel: fansOut(w)}, nil
}

// spawned is how a conductor's log names a branch it invoked: wskx's
// "branch started" (and "branch restarted") lines, and openwhisk-
// composer's "spawned position".
var spawned = regexp.MustCompile(`(?:msg="branch (?:re)?started".* activation=|spawned position: \d+ with activationId: )([0-9a-f]{32})`)

// records gathers a composition's invocations from seeds: their records
// and the records they caused, and the branches their conductors' logs
// name, waiting up to branchWait for records still to come (a branch may
// end a moment after the join it fed). It returns the records and how
// many invocations there were.
func (o *OpenWhisk) records(ctx context.Context, since int64, seeds []string) ([]whisk.Activation, int, error) {
	invocations := slices.Clone(seeds)
	var recs []whisk.Activation
	deadline := time.Now().Add(branchWait)
	for i := 0; i < len(invocations); i++ {
		if _, err := o.await(ctx, invocations[i], deadline); err != nil {
			return nil, 0, err
		}
		all, err := o.list(ctx, since)
		if err != nil {
			return nil, 0, err
		}
		for _, a := range all {
			if a.ActivationID != invocations[i] && a.Cause != invocations[i] {
				continue
			}
			if slices.ContainsFunc(recs, func(r whisk.Activation) bool { return r.ActivationID == a.ActivationID }) {
				continue
			}
			recs = append(recs, a)
			for _, line := range a.Logs {
				if m := spawned.FindStringSubmatch(line); m != nil && !slices.Contains(invocations, m[1]) {
					invocations = append(invocations, m[1])
				}
			}
		}
	}
	return recs, len(invocations), nil
}

// runComposer deploys the workflow's composition with openwhisk-
// composer's deploy command and runs it on composer's own conductor,
// invoked blocking with the Redis of its parallel combinators. The
// branches it invokes are found in its conductor's logs.
func (o *OpenWhisk) runComposer(ctx context.Context, r Run, res *Result) (Job, error) {
	c := o.Composer
	if c == nil || c.Deploy == "" || c.RedisURL == "" {
		return Job{}, fmt.Errorf("the composer baseline needs openwhisk-composer (scripts/npmtools.sh install) and a Redis (scripts/redis.sh start; wskx experiment --redis URL)")
	}
	w, err := o.workflow(r)
	if err != nil {
		return Job{}, err
	}
	name := w.Name
	cmd := exec.CommandContext(ctx, c.Node, c.Deploy, name, r.Ref.File, "--apihost", c.APIHost, "--auth", c.Key, "--basic", "-w")
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return Job{}, fmt.Errorf("openwhisk-composer deploy %s: %w: %s", r.Ref.File, err, strings.TrimSpace(msg.String()))
	}
	params := map[string]any{}
	for k, v := range r.Args {
		params[k] = v
	}
	params["$composer"] = map[string]any{"redis": map[string]any{"uri": c.RedisURL}}
	since := time.Now().Add(-time.Second).UnixMilli()
	start := time.Now()
	inv, err := o.API.Invoke(ctx, name, params, whisk.InvokeOptions{Blocking: true})
	if inv == nil {
		return Job{}, err
	}
	top, err := o.await(ctx, inv.ActivationID, time.Time{})
	if err != nil {
		return Job{}, err
	}
	res.Success, res.Status = top.Response.Success, top.Response.Status
	res.Output = cleanResult(top.Response.Result)
	res.Blocking = true
	res.Direct = !inv.Accepted && sameJSON(inv.Result, top.Response.Result)
	recs, n, err := o.records(ctx, since, []string{inv.ActivationID})
	if err != nil {
		return Job{}, err
	}
	res.Invocations = n
	res.ElapsedMS = endOf(recs, inv.ActivationID, start)
	return Job{Records: recs, Conductor: name, Parallel: fansOut(w)}, nil
}

// endOf is the time from start to the end of the record of the
// invocation that gave the result, from the records rather than from
// when the driver saw it, so that how often a driver polls is no part of
// the figure.
func endOf(recs []whisk.Activation, final string, start time.Time) int64 {
	for _, a := range recs {
		if a.ActivationID == final {
			return a.End - start.UnixMilli()
		}
	}
	return time.Since(start).Milliseconds()
}

// await polls for an activation's record; a zero deadline waits as long
// as ctx allows.
func (o *OpenWhisk) await(ctx context.Context, id string, deadline time.Time) (*whisk.Activation, error) {
	for {
		a, err := o.API.GetActivation(ctx, id)
		if err == nil {
			return a, nil
		}
		if !whisk.IsNotFound(err) {
			return nil, err
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return nil, fmt.Errorf("activation %s has no record after %s", id, branchWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}
