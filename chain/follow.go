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

// Hop is one step activation of a chain as the watch shows it.
type Hop struct {
	Invocation string      `json:"invocation"` // the conductor invocation it ran in
	Activation string      `json:"activation"`
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

// Outcome is how a followed job ended.
type Outcome struct {
	Invocations []string        `json:"invocations"` // every conductor invocation, in order
	Hops        []Hop           `json:"hops"`
	Result      json.RawMessage `json:"result"` // the last invocation's result
	Success     bool            `json:"success"`
	Status      string          `json:"status"`
	Summary     *hop.Summary    `json:"summary,omitempty"`
}

// Follow polls the activation records of a chain started as invocation
// primary until its last invocation ends, calling onHop for every step
// activation as it completes. Invocations handed over at the composition
// length limit are followed as part of the same job.
func Follow(ctx context.Context, api API, comp Composition, primary string, every time.Duration, onHop func(Hop)) (*Outcome, error) {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	stepName := shortName(comp.Step)
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
		if err := collectHops(ctx, api, stepName, since, out, seen, onHop); err != nil {
			return out, err
		}
		if done {
			out.Result = rec.Response.Result
			out.Success = rec.Response.Success
			out.Status = rec.Response.Status
			var res map[string]json.RawMessage
			_ = json.Unmarshal(rec.Response.Result, &res)
			var s hop.Summary
			if raw, ok := res[hop.StateKey]; ok && json.Unmarshal(raw, &s) == nil {
				out.Summary = &s
				if s.Continued != "" {
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

// collectHops adds the step activations caused by one of the followed
// invocations that it has not seen yet, oldest first.
func collectHops(ctx context.Context, api API, stepName string, since int64, out *Outcome, seen map[string]bool, onHop func(Hop)) error {
	recs, err := api.ListActivations(ctx, whisk.ActivationListOptions{Name: stepName, Since: since, Docs: true, Limit: 200})
	if err != nil {
		return fmt.Errorf("follow: list steps: %w", err)
	}
	slices.SortFunc(recs, func(a, b whisk.Activation) int { return int(a.Start - b.Start) })
	for _, r := range recs {
		if seen[r.ActivationID] || !slices.Contains(out.Invocations, r.Cause) {
			continue
		}
		seen[r.ActivationID] = true
		h := HopOf(r)
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
	var rep hop.Report
	if raw, ok := res[hop.StepKey]; ok && json.Unmarshal(raw, &rep) == nil {
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

// shortName turns "/ns/pkg/name" into "pkg/name", the form the activation
// list's name filter takes.
func shortName(fq string) string {
	parts := strings.Split(strings.TrimPrefix(fq, "/"), "/")
	if strings.HasPrefix(fq, "/") && len(parts) > 1 {
		parts = parts[1:]
	}
	return strings.Join(parts, "/")
}
