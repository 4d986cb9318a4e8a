package chain_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

// loadWorkflow reads a workflow, from the examples or written by the
// test, with every job scaled down and given the test's folders.
func loadWorkflow(t *testing.T, file, engine, dir string, o policies.Overrides) *policies.Workflow {
	t.Helper()
	w, err := policies.LoadWorkflow(file)
	if err != nil {
		t.Fatal(err)
	}
	o.Engine = engine
	o.Dir = filepath.Join(dir, "jobs")
	o.StorageURL = "file://" + filepath.Join(dir, "store")
	if w, err = w.With(o, file+" (with the test's overrides)"); err != nil {
		t.Fatal(err)
	}
	return w
}

// writeWorkflow writes a workflow file for a test, beside the examples'
// actions and workloads so that its relative paths find them.
func writeWorkflow(t *testing.T, name, src string) string {
	t.Helper()
	f, err := os.CreateTemp("../examples/compositions", "."+name+"-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.WriteString(src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// runWorkflow deploys a workflow and follows one invocation to its end.
func runWorkflow(t *testing.T, ctx context.Context, e *env, w *policies.Workflow, params map[string]any) (*chain.Outcome, chain.Composition) {
	t.Helper()
	_, comp := deployedWorkflow(t, ctx, e, w)
	out, err := follow(ctx, e, comp, params, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out, comp
}

func needNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the workflow's nodejs actions cannot run")
	}
}

// summaryOf reads the workflow's account from its result.
func summaryOf(t *testing.T, out *chain.Outcome) hop.Summary {
	t.Helper()
	var res map[string]json.RawMessage
	if err := json.Unmarshal(out.Result, &res); err != nil {
		t.Fatal(err)
	}
	var s hop.Summary
	if err := json.Unmarshal(res[hop.StateKey], &s); err != nil {
		t.Fatalf("no summary in %s: %v", out.Result, err)
	}
	return s
}

// TestWorkflowPipeline: a long job between two nodejs actions, with each
// engine: the actions run in order around the job's hops, the job needs
// three hops or more, and the result is the report of the job's result.
func TestWorkflowPipeline(t *testing.T) {
	needNode(t)
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			e := startPlatform(t, dir)
			defer e.lp.Close()
			w := loadWorkflow(t, "../examples/compositions/pipeline.yaml", engine, dir, policies.Overrides{
				Timeout: 4 * time.Second, Margin: `max(duration("1500ms"), last.checkpoint_time * 3)`, MaxRetryWait: time.Second})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, _ := runWorkflow(t, ctx, e, w, map[string]any{"n": 16, "pause_ms": 500, "user": "t"})
			if !out.Success {
				t.Fatalf("workflow failed: %s", out.Result)
			}
			want := straight(t, w.Jobs()[0].Job, map[string]any{"n": 16, "pause_ms": 500})
			got := jobResult(t, out.Result)
			if got["count"] != want["count"] || got["sum"] != want["sum"] || !strings.Contains(got["report"].(string), "counted to 16") {
				t.Errorf("result %v, want the report of %v", got, want)
			}
			var order []string
			hops := 0
			for _, h := range out.Hops {
				if !h.Component {
					hops++
					if len(order) == 0 || order[len(order)-1] != "job" {
						order = append(order, "job")
					}
					continue
				}
				order = append(order, h.Action)
			}
			if strings.Join(order, " ") != "prepare job report" || hops < 3 {
				t.Errorf("components %v with %d hops, want prepare, the job's 3+ hops, report", order, hops)
			}
			if s := summaryOf(t, out); len(s.Jobs) != 1 || s.Jobs[0].Hops != hops || s.Components != hops+2 {
				t.Errorf("summary %+v", s)
			}
			checkRecords(t, e.api, chain.Composition{Conductor: w.Name}, out)
		})
	}
}

// TestWorkflowTryCatch: a job that fails ends with an error result that
// the catch branch turns into a result.
func TestWorkflowTryCatch(t *testing.T) {
	dir := t.TempDir()
	e := startPlatform(t, dir)
	defer e.lp.Close()
	w := loadWorkflow(t, "../examples/compositions/trycatch.yaml", policies.EngineNone, dir, policies.Overrides{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := runWorkflow(t, ctx, e, w, nil)
	got := jobResult(t, out.Result)
	if !out.Success || got["recovered"] != true || got["reason"] != "failed" || !strings.Contains(got["message"].(string), "the input is not valid") {
		t.Errorf("result %s (success %v), want the job's failure caught", out.Result, out.Success)
	}
}

// TestWorkflowRetryFlakyAction: retry runs a failing action again with
// the same input until it succeeds.
func TestWorkflowRetryFlakyAction(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	e := startPlatform(t, dir)
	defer e.lp.Close()
	file := writeWorkflow(t, "flaky", `
name: flaky-retry
actions: {flaky: actions/flaky.js}
composition:
  retry:
    times: 3
    do: flaky
`)
	w := loadWorkflow(t, file, policies.EngineNone, dir, policies.Overrides{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := runWorkflow(t, ctx, e, w, map[string]any{"x": 1})
	got := jobResult(t, out.Result)
	if !out.Success || got["x"] != 1.0 || got["calls"] != 2.0 {
		t.Fatalf("result %s, want the second call's, with the input", out.Result)
	}
	if n := len(out.Hops); n != 2 {
		t.Errorf("%d components ran, want the failed call and its retry", n)
	}
}

// TestWorkflowLoopOfJobs: a while loop whose body is a job runs the job
// three times, each a job of its own, and adds their results up.
func TestWorkflowLoopOfJobs(t *testing.T) {
	engine := engines(t)[0]
	dir := t.TempDir()
	e := startPlatform(t, dir)
	defer e.lp.Close()
	w := loadWorkflow(t, "../examples/compositions/loop.yaml", engine, dir, policies.Overrides{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, _ := runWorkflow(t, ctx, e, w, nil)
	if !out.Success {
		t.Fatalf("workflow failed: %s", out.Result)
	}
	// count n sums 1..n: 4, 8 and 12 sum to 10 + 36 + 78.
	got := jobResult(t, out.Result)
	if got["turns"] != 3.0 || got["total"] != 124.0 {
		t.Errorf("result %v, want 3 turns and a total of 124", got)
	}
	s := summaryOf(t, out)
	keys := map[string]bool{}
	for _, j := range s.Jobs {
		keys[j.Key] = true
	}
	if len(s.Jobs) != 3 || len(keys) != 3 || s.Jobs[2].Hops < 2 {
		t.Errorf("jobs %+v, want three jobs with keys of their own, the last of several hops", s.Jobs)
	}
}

// TestWorkflowPastTheLimit: a job of 120 hops at a 2 s limit inside a
// sequence, under OpenWhisk's default limit of 50 components, finishes
// across three conductor invocations or more with the right result,
// computed once, and no two of its activations overlap. A hop works for
// at most the second before its deadline checkpoint, so at most three of
// the job's 300 ms steps: 360 steps are 120 hops or more.
func TestWorkflowPastTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("four minutes of hops")
	}
	dir := t.TempDir()
	e := startPlatform(t, dir)
	defer e.lp.Close()
	file := writeWorkflow(t, "long", `
name: long
composition:
  sequence:
    - function: '{"n": params.n, "pause_ms": 300}'
    - job:
        name: count
        job:
          command: [../workloads/bin/count, "${params.n}", "${params.pause_ms}"]
          timeout: 2s
        checkpoint:
          deadline: {margin: 1s}
        chain:
          max_hops: 300
          max_duration: 20m
          retries: {max: 3, backoff: 200ms, max_backoff: 500ms}
    - function: '{"count": params.count, "sum": params.sum}'
`)
	w := loadWorkflow(t, file, policies.EngineCooperative, dir, policies.Overrides{})
	if w.LengthLimit != 50 {
		t.Fatalf("length limit %d, want OpenWhisk's 50", w.LengthLimit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	out, comp := runWorkflow(t, ctx, e, w, map[string]any{"n": 360})
	if !out.Success {
		t.Fatalf("workflow failed: %s", out.Result)
	}
	got := jobResult(t, out.Result)
	if got["count"] != 360.0 || got["sum"] != 64980.0 {
		t.Errorf("result %v, want count 360 and sum 64980", got)
	}
	s := summaryOf(t, out)
	if len(out.Invocations) < 3 || s.Invocations != len(out.Invocations) || s.Hops < 120 {
		t.Errorf("%d invocations (summary %d), %d hops; want 3 or more invocations and 120 hops or more", len(out.Invocations), s.Invocations, s.Hops)
	}
	if n := computed(t, e.api, shortStep(comp)); n != 1 {
		t.Errorf("the job's end was computed %d times, want once", n)
	}
	all := allDerived(t, e, out.Invocations)
	var handover int64
	for i := 1; i < len(all); i++ {
		prev, next := all[i-1], all[i]
		if prev.End <= next.Start {
			continue
		}
		// A hand-over: the conductor run that invokes the next invocation
		// ends after that invocation's first conductor run has started.
		// Those milliseconds, and only those, may overlap.
		if handsOver(out.Invocations, prev, next) {
			handover += prev.End - next.Start
			continue
		}
		t.Errorf("activations overlap: %s (%s) and %s (%s)", prev.ActivationID, prev.Name, next.ActivationID, next.Name)
	}
	t.Logf("%d hops over %d invocations, %d derived activations, %d ms of hand-over overlap", s.Hops, len(out.Invocations), len(all), handover)
}

// handsOver says whether prev is a conductor run of one invocation and
// next a run of the invocation after it.
func handsOver(invocations []string, prev, next whisk.Activation) bool {
	i := slices.Index(invocations, prev.Cause)
	return i >= 0 && i+1 < len(invocations) && invocations[i+1] == next.Cause && prev.Name == next.Name
}

// TestWorkflowAlwaysFailingHopAcrossHandovers: a hop that always fails
// (the job dies of a signal, which a retry could help) ends the workflow
// with the retries error after retries.max retries, although its attempts
// straddle hand-overs.
func TestWorkflowAlwaysFailingHopAcrossHandovers(t *testing.T) {
	dir := t.TempDir()
	e := startPlatform(t, dir)
	defer e.lp.Close()
	file := writeWorkflow(t, "failing", `
name: always-failing
length_limit: 2
composition:
  sequence:
    - function: '{"x": 1}'
    - job:
        name: crasher
        job:
          command: [/bin/sh, -c, 'kill -9 $$']
          engine: none
          timeout: 2s
        chain:
          retries: {max: 3, backoff: 100ms, max_backoff: 200ms}
`)
	w := loadWorkflow(t, file, policies.EngineNone, dir, policies.Overrides{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _ := runWorkflow(t, ctx, e, w, nil)
	var res struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(out.Result, &res); err != nil || out.Success || res.Error["reason"] != "retries" || res.Error["attempt"] != 4.0 {
		t.Fatalf("result %s, want the retries error after 4 attempts", out.Result)
	}
	if len(out.Invocations) < 2 {
		t.Errorf("%d invocations, want the attempts spread over hand-overs", len(out.Invocations))
	}
	attempts := 0
	for _, h := range out.Hops {
		if !h.Component {
			attempts++
		}
	}
	if attempts != 4 {
		t.Errorf("%d attempts ran, want 4", attempts)
	}
}

// allDerived is every activation the invocations caused, oldest first.
func allDerived(t *testing.T, e *env, invocations []string) []whisk.Activation {
	t.Helper()
	var all []whisk.Activation
	for _, r := range allDerivedOrTop(t, e) {
		if slices.Contains(invocations, r.Cause) {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, byStart)
	return all
}
