package chain

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/whisk"
)

// Hop is one component activation of a workflow as the watch shows it: a
// hop of one of its jobs, or an ordinary action (Component).
type Hop struct {
	Invocation string `json:"invocation"` // the conductor invocation it ran in
	Activation string `json:"activation"`
	// Action is the activation's action ("pkg/name" or "name"); Component
	// says it is an ordinary action, not a job's step.
	Action    string `json:"action"`
	Component bool   `json:"component,omitempty"`
	// Job names the workflow's job a hop belongs to (its step action's
	// name past NAME-step-); empty for a single job.
	Job        string      `json:"job,omitempty"`
	Hop        int         `json:"hop"`
	Attempt    int         `json:"attempt"`
	Status     string      `json:"status"` // checkpointed, done, failed, or the platform's status
	Engine     string      `json:"engine,omitempty"`
	Generation int         `json:"generation,omitempty"`
	Restored   int         `json:"restored,omitempty"`
	Cause      string      `json:"cause,omitempty"`
	Start      int64       `json:"start"`
	End        int64       `json:"end"`
	Duration   int64       `json:"duration_ms"`
	Metrics    hop.Metrics `json:"metrics"`
}

// awaitBranches waits for the fan-out's branch that went on with the
// workflow and returns where it went.
func awaitBranches(ctx context.Context, api API, branches []string, every time.Duration) (string, error) {
	ended := map[string]bool{}
	for {
		for _, id := range branches {
			if ended[id] {
				continue
			}
			rec, err := api.GetActivation(ctx, id)
			if whisk.IsNotFound(err) {
				continue
			}
			if err != nil {
				return "", fmt.Errorf("follow branch %s: %w", id, err)
			}
			ended[id] = true
			if s, ok := hop.SummaryOfResult(rec.Response.Result); ok && s.Continued != "" {
				return s.Continued, nil
			}
		}
		if len(ended) == len(branches) {
			// Every branch ended and none went on: the claim was won by
			// one that then failed; its error is in its record.
			return "", fmt.Errorf("follow: every branch of the fan-out ended, and none went on with the workflow")
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("follow the fan-out's branches: %w", ctx.Err())
		case <-time.After(every):
		}
	}
}

// StatusHandedOver is the status of the line Follow passes to onHop when
// an invocation hands the workflow to the next one at the length limit.
const StatusHandedOver = "handed over"

// Outcome is how a followed job ended.
type Outcome struct {
	Invocations []string        `json:"invocations"` // every conductor invocation, in order
	Hops        []Hop           `json:"hops"`
	Result      json.RawMessage `json:"result"` // the last invocation's result
	Success     bool            `json:"success"`
	Status      string          `json:"status"`
	Summary     *hop.Summary    `json:"summary,omitempty"`
}

// Follow polls the activation records of a workflow started as
// invocation primary until its last invocation ends, calling onHop for
// every component activation (job hops and ordinary actions) as it
// completes. Invocations handed over at the composition length limit are
// followed as part of the same workflow.
func Follow(ctx context.Context, api API, comp Composition, primary string, every time.Duration, onHop func(Hop)) (*Outcome, error) {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	steps := map[string]bool{}
	for _, s := range comp.Steps {
		steps[shortName(s)] = true
	}
	conductor := shortName(comp.Conductor)
	out := &Outcome{Invocations: []string{primary}}
	seen := map[string]bool{}
	since := time.Now().Add(-time.Minute).UnixMilli()
	current := primary
	for {
		rec, err := api.GetActivation(ctx, current)
		done := err == nil
		if err != nil && !whisk.IsNotFound(err) {
			return out, fmt.Errorf("follow %s: %w", current, err)
		}
		// Collect the steps that ended so far, the finished invocation's too.
		if err := collectHops(ctx, api, comp.Workflow, steps, conductor, since, out, seen, onHop); err != nil {
			return out, err
		}
		if done {
			out.Result = rec.Response.Result
			out.Success = rec.Response.Success
			out.Status = rec.Response.Status
			if s, ok := hop.SummaryOfResult(rec.Response.Result); ok {
				out.Summary = &s
				if s.Continued == "" && s.Join != "" && len(s.Branches) > 0 {
					// A fan-out whose last branch goes on with the workflow:
					// follow the branches until one says where.
					out.Invocations = append(out.Invocations, s.Branches...)
					next, err := awaitBranches(ctx, api, s.Branches, every)
					if err != nil {
						return out, err
					}
					s.Continued = next
				}
				if s.Continued != "" {
					if onHop != nil {
						// Not a component: the watch shows where the workflow went.
						onHop(Hop{Invocation: current, Activation: s.Continued, Action: comp.Conductor, Status: StatusHandedOver,
							Component: true, Start: rec.End, End: rec.End})
					}
					current = s.Continued
					out.Invocations = append(out.Invocations, current)
					continue
				}
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("follow %s: %w", current, ctx.Err())
		case <-time.After(every):
		}
	}
}

// collectHops adds the component activations caused by one of the
// followed invocations that it has not seen yet, oldest first. A single
// job's steps are listed by name; a workflow's components can be any
// action, so its listing is the namespace's.
func collectHops(ctx context.Context, api API, workflow bool, steps map[string]bool, conductor string, since int64, out *Outcome, seen map[string]bool, onHop func(Hop)) error {
	opts := whisk.ActivationListOptions{Since: since, Docs: true, Limit: 200}
	if !workflow && len(steps) == 1 {
		for s := range steps {
			opts.Name = s
		}
	}
	recs, err := api.ListActivations(ctx, opts)
	if err != nil {
		return fmt.Errorf("follow: list components: %w", err)
	}
	slices.SortFunc(recs, func(a, b whisk.Activation) int { return int(a.Start - b.Start) })
	for _, r := range recs {
		if seen[r.ActivationID] || !slices.Contains(out.Invocations, r.Cause) {
			continue
		}
		name := activationName(r)
		if name == conductor && !steps[name] {
			// The conductor's own runs: decisions, not components.
			continue
		}
		seen[r.ActivationID] = true
		h := HopOf(r)
		h.Action = name
		h.Component = !steps[name]
		if !h.Component {
			if _, job, ok := strings.Cut(name, "-step-"); ok {
				h.Job = job
			}
		}
		out.Hops = append(out.Hops, h)
		if onHop != nil {
			onHop(h)
		}
	}
	return nil
}

// HopOf reads a step activation record: the step's report where it made
// one, the platform's verdict where it did not (a timeout or a crash).
func HopOf(r whisk.Activation) Hop {
	h := Hop{Invocation: r.Cause, Activation: r.ActivationID, Start: r.Start, End: r.End, Duration: r.Duration, Status: r.Response.Status}
	var res map[string]json.RawMessage
	_ = json.Unmarshal(r.Response.Result, &res)
	if rep, ok := hop.ReportOfResult(r.Response.Result); ok {
		h.Status, h.Engine, h.Generation, h.Cause, h.Metrics = string(rep.Status), rep.Engine, rep.Generation, rep.Cause, rep.Metrics
		h.Hop, h.Attempt, h.Restored = rep.Hop, rep.Attempt, rep.Restored
	} else if raw, ok := res["error"]; ok {
		var msg string
		if json.Unmarshal(raw, &msg) != nil {
			msg = string(raw)
		}
		h.Cause = msg
	}
	return h
}

// activationName is a record's action as the list filter names it:
// "pkg/name" inside a package, else "name".
func activationName(r whisk.Activation) string {
	if p, ok := r.Annotations.Get("path").(string); ok {
		return shortName("/" + p)
	}
	return r.Name
}

// shortName turns "/ns/pkg/name" into "pkg/name", the form the activation
// list's name filter takes.
func shortName(fq string) string {
	parts := strings.Split(strings.TrimPrefix(fq, "/"), "/")
	if strings.HasPrefix(fq, "/") && len(parts) > 1 {
		parts = parts[1:]
	}
	return strings.Join(parts, "/")
}
