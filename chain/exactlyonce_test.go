package chain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/internal/proctest"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

// deployed deploys p and returns its plan and composition.
func deployed(t *testing.T, ctx context.Context, e *env, p *policies.Policy) (*composer.Plan, chain.Composition) {
	t.Helper()
	return deployedWorkflow(t, ctx, e, policies.SingleJob(p))
}

// deployedWorkflow deploys w and returns its plan and composition.
func deployedWorkflow(t *testing.T, ctx context.Context, e *env, w *policies.Workflow) (*composer.Plan, chain.Composition) {
	t.Helper()
	plan, err := composer.CompileWorkflow(w, composer.Options{Namespace: e.api.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	if err := chain.Deploy(ctx, e.api, plan); err != nil {
		t.Fatal(err)
	}
	comp, err := chain.Lookup(ctx, e.api, plan.Conductor.Name)
	if err != nil {
		t.Fatal(err)
	}
	return plan, comp
}

// follow invokes the conductor and follows the chain to its end.
func follow(ctx context.Context, e *env, comp chain.Composition, params map[string]any, onHop func(chain.Hop)) (*chain.Outcome, error) {
	inv, err := e.api.Invoke(ctx, comp.Conductor, params, whisk.InvokeOptions{})
	if err != nil {
		return nil, err
	}
	return chain.Follow(ctx, e.api, comp, inv.ActivationID, 150*time.Millisecond, onHop)
}

// computed counts the step activations that ran the job to its end (not
// replayed): exactly one per job when the result is exactly once.
func computed(t *testing.T, api *whisk.Client, step string) int {
	t.Helper()
	recs, err := api.ListActivations(context.Background(), whisk.ActivationListOptions{Docs: true, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Name != step {
			continue
		}
		var res map[string]any
		if json.Unmarshal(r.Response.Result, &res) != nil {
			continue
		}
		if rep, ok, err := hop.DecodeReport(res); ok && err == nil && rep.Status == hop.Done && !rep.Replayed {
			n++
		}
	}
	return n
}

// TestSameKeyInvocations invokes a job a second and a third time with the
// same idempotency key at each phase of its first chain: each invocation
// returns the one result, the job's end is computed once, and the first
// chain is undisturbed (right result, its activations never overlap).
func TestSameKeyInvocations(t *testing.T) {
	phases := []struct {
		name  string
		after time.Duration // after hop 1 checkpointed; -1: before hop 1; -2: after the end
	}{
		{"before hop 1", -1},
		{"mid-hop", time.Second},
		{"during a checkpoint", 2400 * time.Millisecond},
		{"after the end", -2},
	}
	for _, engine := range engines(t) {
		for _, ph := range phases {
			t.Run(engine+"/"+ph.name, func(t *testing.T) {
				dir := t.TempDir()
				e := startPlatform(t, dir)
				defer e.lp.Close()
				p := loadPolicy(t, "deadline.yaml", engine, dir)
				p, err := p.With(policies.Overrides{IdempotencyKey: `"count-" + string(params.n)`,
					Retries: &policies.Retries{Max: 4, Backoff: p.Chain.Retries.Backoff, MaxBackoff: p.Chain.Retries.MaxBackoff}}, "deadline.yaml")
				if err != nil {
					t.Fatal(err)
				}
				params := map[string]any{"n": 28, "pause_ms": 200}
				want := straight(t, p, params)
				ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
				defer cancel()
				_, comp := deployed(t, ctx, e, p)

				var wg sync.WaitGroup
				others := make([]*chain.Outcome, 2)
				errs := make([]error, 2)
				again := func() {
					for i := range others {
						wg.Go(func() { others[i], errs[i] = follow(ctx, e, comp, params, nil) })
					}
				}
				var once sync.Once
				onHop := func(h chain.Hop) {
					if ph.after >= 0 && h.Status == string(hop.Checkpointed) {
						once.Do(func() { time.AfterFunc(ph.after, again) })
					}
				}
				if ph.after == -1 {
					again()
				}
				first, err := follow(ctx, e, comp, params, onHop)
				if err != nil {
					t.Fatal(err)
				}
				if ph.after == -2 {
					again()
				}
				wg.Wait()
				if !first.Success {
					t.Fatalf("the first chain failed: %s", first.Result)
				}
				if got := jobResult(t, first.Result); !reflect.DeepEqual(got, want) {
					t.Errorf("first chain's result %v, want %v", got, want)
				}
				for i, o := range others {
					if errs[i] != nil {
						t.Fatalf("invocation %d: %v", i+2, errs[i])
					}
					if !o.Success || !reflect.DeepEqual(jobResult(t, o.Result), want) {
						t.Errorf("invocation %d: %s %s, want %v", i+2, o.Status, o.Result, want)
					}
				}
				if n := computed(t, e.api, shortStep(comp)); n != 1 {
					t.Errorf("the job's end was computed %d times, want once", n)
				}
				// One invocation ran the job to its end; the others were
				// handed its result.
				fresh := 0
				for _, o := range append([]*chain.Outcome{first}, others...) {
					if o.Summary != nil && !o.Summary.Replayed {
						fresh++
					}
				}
				if fresh != 1 {
					t.Errorf("%d invocations say they computed the result, want 1", fresh)
				}
				checkRecords(t, e.api, comp, first)
				if t.Failed() {
					logHops(t, first.Hops)
				}
			})
		}
	}
}

func shortStep(comp chain.Composition) string {
	return comp.Steps[0][strings.LastIndex(comp.Steps[0], "/")+1:]
}

// TestChaos runs ten chains, two invocations each of five keys, while a
// killer SIGKILLs a random job or the step container running it, every one
// to two seconds while at least two jobs run, ten times in all (a job
// killed at every hop could never finish, whatever the design). Every
// invocation must end with the right result, and each job's end must be
// computed once.
func TestChaos(t *testing.T) {
	dir := t.TempDir()
	e := startPlatform(t, dir)
	defer e.lp.Close()
	p := loadPolicy(t, "deadline.yaml", policies.EngineCooperative, dir)
	p, err := p.With(policies.Overrides{IdempotencyKey: `"count-" + string(params.n)`,
		Retries: &policies.Retries{Max: 8, Backoff: 200 * time.Millisecond, MaxBackoff: time.Second}}, "deadline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	_, comp := deployed(t, ctx, e, p)
	workload := p.Job.Command[0]

	stopKiller := make(chan struct{})
	kills := map[string]int{}
	var killerDone sync.WaitGroup
	killerDone.Go(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stopKiller:
				return
			case <-time.After(time.Duration(1000+rng.IntN(1000)) * time.Millisecond):
			}
			jobs := proctest.Running(workload)
			if len(jobs) < 2 || kills["job"]+kills["step"] >= 10 {
				continue
			}
			pid := jobs[rng.IntN(len(jobs))]
			what := "job"
			if rng.IntN(2) == 0 {
				if pp := proctest.Parent(pid); pp > 1 {
					pid, what = pp, "step"
				}
			}
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				kills[what]++
				t.Logf("killed the %s %d of one of %d running jobs", what, pid, len(jobs))
			}
		}
	})

	type run struct {
		n   int
		out *chain.Outcome
		err error
	}
	var runs []*run
	var wg sync.WaitGroup
	for k := range 5 {
		for range 2 {
			r := &run{n: 40 + 5*k}
			runs = append(runs, r)
			wg.Go(func() {
				r.out, r.err = follow(ctx, e, comp, map[string]any{"n": r.n, "pause_ms": 200}, nil)
			})
		}
	}
	wg.Wait()
	close(stopKiller)
	killerDone.Wait()
	t.Logf("killed %d jobs and %d step containers", kills["job"], kills["step"])
	if kills["job"]+kills["step"] < 5 {
		t.Errorf("only %d kills happened; the test should disturb the chains more", kills["job"]+kills["step"])
	}
	for _, r := range runs {
		if r.err != nil {
			t.Fatalf("n=%d: %v", r.n, r.err)
		}
		// The count workload sums 1..n.
		want := map[string]any{"count": float64(r.n), "sum": float64(r.n * (r.n + 1) / 2)}
		if r.out.Summary == nil {
			t.Errorf("n=%d: %s %s, a result without the chain's summary", r.n, r.out.Status, r.out.Result)
			logHops(t, r.out.Hops)
			continue
		}
		t.Logf("n=%d: %d hops, %d retries, %d ms", r.n, len(r.out.Hops), r.out.Summary.Retries, r.out.Summary.ElapsedMS)
		if !r.out.Success || !reflect.DeepEqual(jobResult(t, r.out.Result), want) {
			t.Errorf("n=%d: %s %s, want %v", r.n, r.out.Status, r.out.Result, want)
			logHops(t, r.out.Hops)
		}
	}
	if n := computed(t, e.api, shortStep(comp)); n != 5 {
		t.Errorf("%d ends computed for 5 jobs, want one each", n)
	}
}

// failAfterFirstHop checkpoints at its first deadline and kills itself on
// every later hop: a hop that can never succeed.
const failAfterFirstHop = `
[ "$WSKX_RESTORED" = 1 ] && kill -9 $$
n=0
save() { echo 1 > "$WSKX_STATE_DIR/i"; n=$((n+1)); echo $n > "$WSKX_STATE_DIR/.saved.tmp" && mv "$WSKX_STATE_DIR/.saved.tmp" "$WSKX_STATE_DIR/.saved"; }
trap save USR1
trap 'save; exit 85' TERM
while :; do sleep 0.05; done
`

// TestRetryBudgetAcrossHandoverAndResume: an always-failing hop ends the
// job after retries.max retries although its attempts straddle a hand-over
// at the composition limit, and a resume of the job does not get a fresh
// budget.
func TestRetryBudgetAcrossHandoverAndResume(t *testing.T) {
	dir := t.TempDir()
	e := startPlatformWith(t, dir, nil, 3)
	defer e.lp.Close()
	cmd, _ := json.Marshal([]string{"sh", "-c", failAfterFirstHop, "job"})
	p, err := policies.Parse([]byte(fmt.Sprintf(`name: failing
job: {command: %s, engine: cooperative, timeout: 4s, dir: %s}
checkpoint: {deadline: {margin: 1500ms}}
chain:
  idempotency_key: '"fail-" + string(params.n)'
  length_limit: 3
  retries: {max: 2, backoff: 100ms, max_backoff: 200ms}
storage: {url: "file://%s"}
`, cmd, filepath.Join(dir, "jobs"), filepath.Join(dir, "store"))), "failing")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, comp := deployed(t, ctx, e, p)
	params := map[string]any{"n": 1}
	out, err := follow(ctx, e, comp, params, nil)
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for _, h := range out.Hops {
		if h.Hop == 2 || h.Hop == 0 {
			attempts++ // hop 2's attempts, reported or killed
		}
	}
	if out.Success || !strings.Contains(string(out.Result), `"reason":"retries"`) || attempts != 3 || len(out.Invocations) < 2 {
		logHops(t, out.Hops)
		t.Fatalf("got %s after %d attempts of hop 2 over %d invocations; want the retries error after 3 attempts across a hand-over",
			out.Result, attempts, len(out.Invocations))
	}
	// A resume names the job by its key: the budget is spent, so nothing runs.
	resumed, err := follow(ctx, e, comp, map[string]any{hop.ResumeKey: "fail-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Success || !strings.Contains(string(resumed.Result), "has been tried 3 times") {
		t.Fatalf("resume: %s, want the spent budget named", resumed.Result)
	}
	for _, h := range resumed.Hops {
		if h.Metrics.WorkMS > 0 {
			t.Errorf("the resumed job ran again: %+v", h)
		}
	}
}
