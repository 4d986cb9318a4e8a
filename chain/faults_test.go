package chain_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/whisk"
)

// TestChainSurvivesCrashes crashes the container of hop 2 mid-work,
// mid-checkpoint and mid-upload. Each job must still end with the right
// result, once, and the retry must restore the newest whole generation,
// so that at most one checkpoint period of work is lost.
func TestChainSurvivesCrashes(t *testing.T) {
	for _, engine := range engines(t) {
		for _, point := range []string{runner.FaultWork, runner.FaultCheckpoint, runner.FaultUpload} {
			t.Run(engine+"/"+point, func(t *testing.T) {
				dir := t.TempDir()
				e := startPlatformWith(t, dir, map[string]string{runner.FaultEnv: point + "@2"}, 0)
				defer e.lp.Close()
				// A 3.5 s limit leaves hop 1 two seconds of the job's 4-5.5 s
				// of factorisation, so that hop 2 still works when the crash
				// comes, 1.5 s into it (its first checkpoint and half a period).
				p := override(t, loadPolicy(t, "interval.yaml", engine, dir), policies.Overrides{Timeout: 3500 * time.Millisecond})
				want := straight(t, p, nil)
				out, comp := runChain(t, e, p, nil)
				if !out.Success {
					t.Fatalf("chain failed: %s", out.Result)
				}
				if got := jobResult(t, out.Result); !reflect.DeepEqual(got, want) {
					t.Errorf("result %v, want %v", got, want)
				}
				// The retry is the first hop after the crash that did not fail:
				// hop 2 again, or hop 3 when hop 2 left a generation before it
				// crashed (the job's lease numbers a hop that made progress as done).
				var hop1, retry *chain.Hop
				crashed := 0
				for i := range out.Hops {
					h := &out.Hops[i]
					switch {
					case h.Hop == 1 && h.Status == string(hop.Checkpointed):
						hop1 = h
					case h.Hop == 0 && h.Status == whisk.StatusDeveloperError:
						crashed++
					case crashed > 0 && h.Hop >= 2 && h.Status != string(hop.Failed) && retry == nil:
						retry = h
					}
				}
				if hop1 == nil || retry == nil || crashed != 1 {
					t.Fatalf("want hop 1, one crashed activation and hop 2's retry; got %+v", out.Hops)
				}
				// A loaded machine may fail another hop (a checkpoint that
				// misses its deadline); the crash must be among the retries.
				if out.Summary.Retries < 1 {
					t.Errorf("summary says %d retries, want at least the crash", out.Summary.Retries)
				}
				// Nothing half-made was restored, and nothing whole was lost:
				// the retry starts from the newest generation the crash left.
				if retry.Restored < hop1.Generation {
					t.Errorf("the retry restored generation %d, older than hop 1's %d", retry.Restored, hop1.Generation)
				}
				if point == runner.FaultWork && retry.Restored == hop1.Generation {
					t.Errorf("a crash mid-work lost the interval checkpoints hop 2 made (restored %d)", retry.Restored)
				}
				checkRecords(t, e.api, comp, out)
				if t.Failed() {
					logHops(t, out.Hops)
				}
			})
		}
	}
}

func logHops(t *testing.T, hops []chain.Hop) {
	t.Helper()
	for _, h := range hops {
		t.Logf("hop %d.%d %s gen %d restored %d work %dms: %s", h.Hop, h.Attempt, h.Status, h.Generation, h.Restored, h.Metrics.WorkMS, h.Cause)
	}
}

// TestChainSurvivesPlatformRestart stops the platform in the middle of a
// chain, losing the conductor's invocation, starts it again on the same
// data, and invokes the job again with the same idempotency key: the job
// goes on from its newest whole generation and ends once.
func TestChainSurvivesPlatformRestart(t *testing.T) {
	engine := engines(t)[len(engines(t))-1]
	dir := t.TempDir()
	e := startPlatform(t, dir)
	p := override(t, loadPolicy(t, "deadline.yaml", engine, dir), policies.Overrides{IdempotencyKey: `"count-" + string(params.n)`})
	params := map[string]any{"n": 30, "pause_ms": 200}
	want := straight(t, p, params)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	plan, comp := deployed(t, ctx, e, p)
	first, err := e.api.Invoke(ctx, plan.Conductor.Name, params, whisk.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Follow until hop 1 has checkpointed, then pull the plug mid hop 2.
	fctx, stop := context.WithCancel(ctx)
	var gen1 int
	_, err = chain.Follow(fctx, e.api, comp, first.ActivationID, 100*time.Millisecond, func(h chain.Hop) {
		if h.Status == string(hop.Checkpointed) && gen1 == 0 {
			gen1 = h.Generation
			time.AfterFunc(500*time.Millisecond, stop)
		}
	})
	if !errors.Is(err, context.Canceled) || gen1 == 0 {
		t.Fatalf("follow ended with %v before a checkpoint (generation %d)", err, gen1)
	}
	if err := e.lp.Close(); err != nil {
		t.Fatal(err)
	}

	e = startPlatform(t, dir)
	defer e.lp.Close()
	lost, err := e.api.GetActivation(ctx, first.ActivationID)
	if err != nil {
		t.Fatalf("the lost invocation has no record after the restart: %v", err)
	}
	if lost.Response.Status != whisk.StatusInternalError {
		t.Errorf("the lost invocation is recorded as %q, want %q", lost.Response.Status, whisk.StatusInternalError)
	}
	second, err := e.api.Invoke(ctx, plan.Conductor.Name, params, whisk.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := chain.Follow(ctx, e.api, comp, second.ActivationID, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Success {
		t.Fatalf("resumed chain failed: %s", out.Result)
	}
	if got := jobResult(t, out.Result); !reflect.DeepEqual(got, want) {
		t.Errorf("result %v, want %v", got, want)
	}
	// The first hop that ran (one may have found the lost hop's holder
	// still live, and waited for it) went on from the checkpoint.
	var ran *chain.Hop
	for i := range out.Hops {
		if s := out.Hops[i].Status; s != string(hop.Failed) && s != string(hop.Waiting) {
			ran = &out.Hops[i]
			break
		}
	}
	if ran == nil || ran.Restored < gen1 {
		t.Errorf("the resumed chain did not start from generation %d or newer: %+v", gen1, out.Hops)
	}
	checkRecords(t, e.api, comp, out)

	// A third invocation with the same key replays the stored result.
	third, err := e.api.Invoke(ctx, plan.Conductor.Name, params, whisk.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := chain.Follow(ctx, e.api, comp, third.ActivationID, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := jobResult(t, again.Result); !reflect.DeepEqual(got, want) || again.Summary == nil || !again.Summary.Replayed {
		t.Errorf("the same key ran again instead of replaying: %s", again.Result)
	}
	if len(again.Hops) != 1 || again.Hops[0].Metrics.WorkMS != 0 {
		t.Errorf("a replay did work: %+v", again.Hops)
	}
}

// TestChainContinuesPastLengthLimit runs a job that needs more hops than
// the platform lets one composition have: the conductor hands it to a new
// invocation, and the watch follows both as one job.
func TestChainContinuesPastLengthLimit(t *testing.T) {
	engine := policies.EngineCooperative
	dir := t.TempDir()
	e := startPlatformWith(t, dir, nil, 2)
	defer e.lp.Close()
	p := loadPolicy(t, "deadline.yaml", engine, dir)
	// Every attempt of a hop must fit in one invocation.
	p = override(t, p, policies.Overrides{LengthLimit: 2, Retries: &policies.Retries{Max: 1, Backoff: p.Chain.Retries.Backoff, MaxBackoff: p.Chain.Retries.MaxBackoff}})
	params := map[string]any{"n": 30, "pause_ms": 200}
	want := straight(t, p, params)
	out, comp := runChain(t, e, p, params)
	if !out.Success {
		t.Fatalf("chain failed: %s", out.Result)
	}
	if got := jobResult(t, out.Result); !reflect.DeepEqual(got, want) {
		t.Errorf("result %v, want %v", got, want)
	}
	if len(out.Invocations) < 2 || out.Summary.Invocations != len(out.Invocations) {
		t.Errorf("want the job carried over at least two invocations, got %v (summary says %d)", out.Invocations, out.Summary.Invocations)
	}
	if out.Summary.Hops < 3 {
		t.Errorf("summary %+v: want at least three hops", out.Summary)
	}
	checkRecords(t, e.api, comp, out)
}
