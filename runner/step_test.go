package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/cooperative"
	"github.com/wskx/wskx/runner/dmtcp"
)

// countScript counts to its first argument in steps of 50 ms, saving its
// counter when the cooperative engine asks.
const countScript = `
i=0
n=0
[ -f "$WSKX_STATE_DIR/i" ] && i=$(cat "$WSKX_STATE_DIR/i")
save() {
	echo "$i" > "$WSKX_STATE_DIR/i.tmp" && mv "$WSKX_STATE_DIR/i.tmp" "$WSKX_STATE_DIR/i"
	n=$((n+1)); echo "$n" > "$WSKX_STATE_DIR/.saved.tmp" && mv "$WSKX_STATE_DIR/.saved.tmp" "$WSKX_STATE_DIR/.saved"
}
trap save USR1
trap 'save; exit 85' TERM
echo "hop $WSKX_HOP starts at $i" >&2
while [ "$i" -lt "$1" ]; do sleep 0.05; i=$((i+1)); done
echo "{\"count\": $i, \"hop\": $WSKX_HOP}"
`

// racerScript finishes instead of saving when asked for the deadline
// checkpoint: the job's exit races the checkpoint and must win.
const racerScript = `
echo 1 > "$WSKX_STATE_DIR/i"
trap 'echo "{\"finished\": \"early\"}"; exit 0' TERM
while :; do sleep 0.05; done
`

type stepSetup struct {
	engine   runner.Engine
	store    *testStore
	timeout  time.Duration
	margin   string
	interval string // "" for none
	deadline bool   // a deadline checkpoint
	script   string // a shell script, or
	program  string // a program
	args     []string
	keep     int
}

func (s stepSetup) policy(t *testing.T) string {
	t.Helper()
	cmd := []string{"sh", "-c", s.script, "job"}
	if s.program != "" {
		cmd = []string{s.program}
	}
	cmd = append(cmd, s.args...)
	cj, _ := json.Marshal(cmd)
	ck := ""
	if s.deadline {
		ck += fmt.Sprintf("  deadline:\n    margin: %s\n", s.margin)
	}
	if s.interval != "" {
		ck += fmt.Sprintf("  interval:\n    period: %s\n", s.interval)
	}
	keep := max(s.keep, 1)
	return fmt.Sprintf("name: steptest\njob:\n  command: %s\n  engine: %s\n  timeout: %s\n  dir: %s\ncheckpoint:\n%sstorage:\n  url: file://%s\n  keep: %d\n",
		cj, s.engine.Name(), s.timeout, t.TempDir(), ck, t.TempDir(), keep)
}

func (s stepSetup) container(t *testing.T) *container {
	t.Helper()
	c := newContainer(t, runner.Deps{
		Engine:    func(ctx context.Context, name string) (runner.Engine, error) { return s.engine, nil },
		OpenStore: s.opener(),
	}, nil)
	c.initStep(t, s.policy(t))
	return c
}

// containerWithAPI is a container, not yet initialised, whose activations
// name apiHost as OpenWhisk's API.
func (s stepSetup) containerWithAPI(t *testing.T, apiHost string) *container {
	t.Helper()
	return newContainer(t, runner.Deps{
		Engine:    func(ctx context.Context, name string) (runner.Engine, error) { return s.engine, nil },
		OpenStore: s.opener(),
	}, func(k string) string {
		if k == "__OW_API_HOST" {
			return apiHost
		}
		return ""
	})
}

// opener is the real file storage of the policy, or the in-memory store
// when the test inspects or breaks it.
func (s stepSetup) opener() func(context.Context, policies.Storage) (runner.Store, error) {
	if s.store == nil {
		return runner.OpenStore
	}
	return s.store.opener()
}

// runHop sends one /run for req with a deadline timeout from now.
func runHop(t *testing.T, c *container, req hop.Request, timeout time.Duration) (map[string]any, hop.Report) {
	t.Helper()
	st, out := c.post(t, "/run", runBody(map[string]any{hop.StepKey: req}, time.Now().Add(timeout)))
	if st != http.StatusOK {
		t.Fatalf("hop %d: status %d: %v", req.Hop, st, out)
	}
	return out, report(t, out)
}

// conduct plays the conductor: it runs hops until the job is done,
// carrying each report into the next request.
func conduct(t *testing.T, c *container, job string, timeout time.Duration, maxHops int) (map[string]any, []hop.Report) {
	t.Helper()
	req := hop.Request{Job: job, Key: job, Hop: 1, Attempt: 1, Started: time.Now().UnixMilli()}
	return conductParams(t, c, req, nil, timeout, maxHops)
}

func conductParams(t *testing.T, c *container, req hop.Request, params map[string]any, timeout time.Duration, maxHops int) (map[string]any, []hop.Report) {
	t.Helper()
	var reps []hop.Report
	for range maxHops {
		value := maps.Clone(params)
		if value == nil {
			value = map[string]any{}
		}
		value[hop.StepKey] = req
		st, out := c.post(t, "/run", runBody(value, time.Now().Add(timeout)))
		if st != http.StatusOK {
			t.Fatalf("hop %d: status %d: %v", req.Hop, st, out)
		}
		rep := report(t, out)
		reps = append(reps, rep)
		switch rep.Status {
		case hop.Done:
			return out, reps
		case hop.Checkpointed:
			req.Hop++
			req.Attempt = 1
			req.Generation = rep.Generation
			req.Last = rep.Metrics
		default:
			if !rep.Retryable {
				t.Fatalf("hop %d failed: %+v", req.Hop, rep)
			}
			req.Attempt++
		}
	}
	t.Fatalf("job %s not done after %d hops: %+v", req.Job, maxHops, reps)
	return nil, nil
}

// TestStepChain counts over several deadline-checkpointed hops and
// checks the final result, the generations and the replay.
func TestStepChain(t *testing.T) {
	for _, eng := range checkpointEngines(t) {
		t.Run(eng.Name(), func(t *testing.T) {
			s := stepSetup{engine: eng, store: newTestStore(t), timeout: 1500 * time.Millisecond, margin: "500ms",
				deadline: true, script: countScript, args: []string{"50"}}
			c := s.container(t)
			out, reps := conduct(t, c, "jchain", s.timeout, 20)
			if out["count"] != 50.0 {
				t.Fatalf("final result %v, want count 50", out)
			}
			if len(reps) < 3 {
				t.Errorf("the job took %d hops; the setup should need at least 3", len(reps))
			}
			for i, r := range reps[:len(reps)-1] {
				if r.Status != hop.Checkpointed || r.Generation != i+1 || r.Metrics.Checkpoints != 1 || r.Metrics.ImageBytes == 0 {
					t.Errorf("hop %d: %+v, want checkpointed generation %d with one checkpoint", i+1, r, i+1)
				}
			}
			last := reps[len(reps)-1]
			if last.Replayed || last.Hop != len(reps) {
				t.Errorf("last hop report %+v", last)
			}
			// A late duplicate of the last hop returns the same result, replayed.
			dup, rep := runHop(t, c, hop.Request{Job: "jchain", Hop: last.Hop, Attempt: 2}, s.timeout)
			if rep.Status != hop.Done || !rep.Replayed || dup["count"] != 50.0 || dup["hop"] != out["hop"] {
				t.Errorf("replay: %v %+v", dup, rep)
			}
		})
	}
}

// TestStepWorkloadChain runs the C count workload over several hops: its
// sum shows that no step was lost or counted twice.
func TestStepWorkloadChain(t *testing.T) {
	for _, eng := range workloadEngines(t) {
		t.Run(eng.Name(), func(t *testing.T) {
			// A DMTCP checkpoint takes about half a second: give it room.
			timeout, margin, n, sum := 1200*time.Millisecond, "500ms", 30, 465.0
			if eng.Name() == "dmtcp" {
				timeout, margin, n, sum = 3*time.Second, "1500ms", 60, 1830.0
			}
			s := stepSetup{engine: eng, store: nil, timeout: timeout, margin: margin,
				deadline: true, program: filepath.Join(workloads, "count"), args: []string{"${params.n}", "50"}}
			c := s.container(t)
			req := hop.Request{Job: "jcount", Hop: 1, Attempt: 1, Started: time.Now().UnixMilli()}
			out, reps := conductParams(t, c, req, map[string]any{"n": n}, s.timeout, 20)
			if out["count"] != float64(n) || out["sum"] != sum {
				t.Fatalf("final result %v, want count %d and sum %v", out, n, sum)
			}
			if len(reps) < 3 {
				t.Errorf("%d hops; the setup should need at least 3", len(reps))
			}
		})
	}
}

// TestStepInterval checks which checkpoints happen: interval ones while
// the job runs, each a generation of its own, then the deadline one.
func TestStepInterval(t *testing.T) {
	for _, eng := range workloadEngines(t) {
		t.Run(eng.Name()+"/interval and deadline", func(t *testing.T) {
			timeout, margin, period, n, sum := 2*time.Second, "500ms", "400ms", 50, 1275.0
			if eng.Name() == "dmtcp" {
				timeout, margin, period, n, sum = 4*time.Second, "1500ms", "1s", 80, 3240.0
			}
			s := stepSetup{engine: eng, store: newTestStore(t), timeout: timeout, margin: margin,
				deadline: true, interval: period, program: filepath.Join(workloads, "count"), args: []string{fmt.Sprint(n), "50"}, keep: 100}
			c := s.container(t)
			out, reps := conduct(t, c, "jinterval", s.timeout, 20)
			if out["count"] != float64(n) || out["sum"] != sum {
				t.Fatalf("final result %v, want count %d and sum %v", out, n, sum)
			}
			// Every checkpoint is a generation; the deadline one is the hop's
			// last. A hop that failed on a loaded machine may have saved
			// interval generations first.
			gen, total, deadlines := 0, 0, 0
			for _, r := range reps {
				total += r.Metrics.Checkpoints
				if r.Generation-gen != r.Metrics.Checkpoints && r.Generation > gen {
					t.Errorf("hop %d (%s) wrote generations %d..%d but counted %d checkpoints", r.Hop, r.Status, gen+1, r.Generation, r.Metrics.Checkpoints)
				}
				gen = max(gen, r.Generation)
				if r.Status == hop.Checkpointed {
					deadlines++
				}
			}
			// The deadline checkpoint stops the job at its image. DMTCP's
			// image is the whole process: nothing is lost. count saves its
			// steps and drops the 50 ms pause it is in, which it does again.
			lostMax := int64(0)
			if eng.Name() == "cooperative" {
				lostMax = 50 + 200 // a pause, with room for a loaded machine
			}
			for _, r := range reps {
				if r.Status != hop.Failed && (r.Metrics.LostMS < 0 || r.Metrics.LostMS > lostMax) {
					t.Errorf("hop %d (%s) lost %d ms, want at most %d", r.Hop, r.Status, r.Metrics.LostMS, lostMax)
				}
			}
			gens := s.store.gens(t, "jinterval")
			if len(gens) != total || total <= deadlines {
				t.Errorf("%d generations stored, %d checkpoints counted over %d hops: want interval checkpoints beyond the %d deadline ones",
					len(gens), total, len(reps), deadlines)
			}
		})
	}
	for _, eng := range checkpointEngines(t) {
		t.Run(eng.Name()+"/interval only", func(t *testing.T) {
			s := stepSetup{engine: eng, store: newTestStore(t), timeout: 1500 * time.Millisecond,
				interval: "400ms", script: countScript, args: []string{"40"}}
			c := s.container(t)
			out, reps := conduct(t, c, "jionly", s.timeout, 20)
			if out["count"] != 40.0 {
				t.Fatalf("final result %v", out)
			}
			if len(reps) < 2 {
				t.Errorf("%d hops; want the interval checkpoints to carry the job over hops", len(reps))
			}
			// A hop stopped short of its deadline with no checkpoint of its
			// own at that instant loses what it did since its newest image:
			// between 0 and one period plus the checkpoint's own time.
			for _, r := range reps[:len(reps)-1] {
				if r.Metrics.LostMS <= 0 || r.Metrics.LostMS > 400+r.Metrics.CheckpointMS+200 {
					t.Errorf("hop %d lost %d ms, want (0, period]", r.Hop, r.Metrics.LostMS)
				}
			}
			if last := reps[len(reps)-1]; last.Metrics.LostMS != 0 {
				t.Errorf("the finishing hop lost %d ms", last.Metrics.LostMS)
			}
		})
	}
}

// TestStepExitDuringCheckpoint closes the original design's race: the job
// exits while the deadline checkpoint is taken; its result is returned
// once and the half-made checkpoint is never visible.
func TestStepExitDuringCheckpoint(t *testing.T) {
	for _, eng := range checkpointEngines(t) {
		t.Run(eng.Name(), func(t *testing.T) {
			s := stepSetup{engine: eng, store: newTestStore(t), timeout: 1500 * time.Millisecond, margin: "500ms",
				deadline: true, script: racerScript}
			c := s.container(t)
			out, rep := runHop(t, c, hop.Request{Job: "jrace", Hop: 1, Attempt: 1}, s.timeout)
			if rep.Status != hop.Done || rep.Replayed || out["finished"] != "early" {
				t.Fatalf("got %v %+v, want the job's own result", out, rep)
			}
			if gens := s.store.gens(t, "jrace"); len(gens) != 0 {
				t.Errorf("generations %v are visible after the job won the race", gens)
			}
			// The conductor never asks for another hop; if something does,
			// it gets the one result back.
			again, rep2 := runHop(t, c, hop.Request{Job: "jrace", Hop: 2, Attempt: 1, Generation: 1}, s.timeout)
			if rep2.Status != hop.Done || !rep2.Replayed || again["finished"] != "early" {
				t.Errorf("second hop: %v %+v", again, rep2)
			}
		})
	}
}

// placeLease writes a holding of the job by another chain's activation
// whose deadline is at deadline.
func placeLease(t *testing.T, st runner.Store, job string, token int, deadline time.Time) {
	t.Helper()
	won, err := st.TakeLease(context.Background(), job, checkpoint.Lease{Token: token, Chain: "cother", Activation: "aholder",
		Deadline: deadline.UnixMilli(), Hop: 1, Attempt: 1})
	if err != nil || !won {
		t.Fatalf("could not place the holder's lease: %v", err)
	}
}

// TestStepLease: a job held by another chain's live activation is never
// disturbed: the step waits, and answers Waiting if the holder outlives
// its own time; a holder past its deadline is taken over at the next
// token, as the next attempt of its hop; a holding of the asking chain
// never blocks.
func TestStepLease(t *testing.T) {
	tests := []struct {
		name     string
		holder   time.Duration // the holder's deadline, from the hop's start
		chain    string        // the asking chain
		want     hop.Status
		attempt  int
		waitedMS int64 // at least
	}{
		{"live holder waited for, then Waiting", time.Hour, "cmine", hop.Waiting, 0, 1000},
		{"dead holder taken over", -time.Minute, "cmine", hop.Done, 2, 0},
		// The runner allows a holder 2 s (leaseGrace) past its deadline.
		{"holder about to die waited for", 500*time.Millisecond - 2*time.Second, "cmine", hop.Done, 2, 300},
		{"own chain's holding does not block", time.Hour, "cother", hop.Done, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := stepSetup{engine: coop(t), store: newTestStore(t), timeout: 2 * time.Second, margin: "1s",
				deadline: true, script: countScript, args: []string{"2"}}
			c := s.container(t)
			placeLease(t, s.store, "jlease", 1, time.Now().Add(tc.holder))
			_, rep := runHop(t, c, hop.Request{Job: "jlease", Hop: 1, Attempt: 1, Chain: tc.chain}, s.timeout)
			if rep.Status != tc.want || rep.Metrics.WaitMS < tc.waitedMS {
				t.Fatalf("got %+v, want %s after waiting at least %d ms", rep, tc.want, tc.waitedMS)
			}
			l, _, err := s.store.Lease(context.Background(), "jlease")
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == hop.Waiting {
				if _, ok, _ := s.store.Result(context.Background(), "jlease"); ok || l.Token != 1 {
					t.Errorf("the waiting hop ran the job (lease %+v)", l)
				}
				return
			}
			if rep.Hop != 1 || rep.Attempt != tc.attempt || l.Token != 2 || l.Chain != tc.chain {
				t.Errorf("report hop %d attempt %d, lease %+v; want hop 1 attempt %d at token 2", rep.Hop, rep.Attempt, l, tc.attempt)
			}
		})
	}
}

// TestStepLeaseRace: two activations of different chains race for a job
// whose holder died; exactly one runs it, and the other waits and returns
// the same result, replayed.
func TestStepLeaseRace(t *testing.T) {
	s := stepSetup{engine: coop(t), store: newTestStore(t), timeout: 4 * time.Second, margin: "1s",
		deadline: true, script: countScript, args: []string{"10"}}
	policy := s.policy(t)
	placeLease(t, s.store, "jrace2", 1, time.Now().Add(-time.Minute))
	var cs [2]*container
	for i := range cs {
		cs[i] = newContainer(t, runner.Deps{
			Engine:    func(ctx context.Context, name string) (runner.Engine, error) { return s.engine, nil },
			OpenStore: s.store.opener(),
		}, nil)
		cs[i].initStep(t, policy)
	}
	var wg sync.WaitGroup
	reps := make([]hop.Report, 2)
	outs := make([]map[string]any, 2)
	for i := range cs {
		wg.Go(func() {
			outs[i], reps[i] = runHop(t, cs[i], hop.Request{Job: "jrace2", Hop: 1, Attempt: 1, Chain: fmt.Sprintf("c%d", i)}, s.timeout)
		})
	}
	wg.Wait()
	ran, replayed := 0, 0
	for i, r := range reps {
		if r.Status != hop.Done || outs[i]["count"] != 10.0 {
			t.Fatalf("activation %d: %v %+v", i, outs[i], r)
		}
		if r.Replayed {
			replayed++
		} else {
			ran++
		}
	}
	starts := strings.Count(cs[0].stderr.String()+cs[1].stderr.String(), "hop 1 starts")
	if ran != 1 || replayed != 1 || starts != 1 {
		t.Errorf("%d ran, %d replayed, the job started %d times; want one of each and one start", ran, replayed, starts)
	}
}

// TestStepJobFails reports a job's non-zero exit with its stderr.
func TestStepJobFails(t *testing.T) {
	s := stepSetup{engine: coop(t), store: newTestStore(t), timeout: 5 * time.Second, margin: "1s",
		deadline: true, script: `echo "cannot open input" >&2; exit 3`}
	c := s.container(t)
	_, rep := runHop(t, c, hop.Request{Job: "jfail", Hop: 1, Attempt: 1}, s.timeout)
	if rep.Status != hop.Failed || rep.ExitCode != 3 || rep.Retryable || !strings.Contains(rep.StderrTail, "cannot open input") {
		t.Errorf("got %+v", rep)
	}
}

// selfInvokeAPI is an OpenWhisk API endpoint that records invocations
// and answers like a non-blocking invoke.
type selfInvokeAPI struct {
	delay  time.Duration // before answering, like a loaded controller
	mu     sync.Mutex
	params []map[string]any
	paths  []string
}

func (a *selfInvokeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(a.delay)
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	a.mu.Lock()
	a.params = append(a.params, m)
	a.paths = append(a.paths, r.URL.Path+"?"+r.URL.RawQuery)
	a.mu.Unlock()
	w.Header().Set("x-openwhisk-activation-id", "anext")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"activationId":"anext"}`))
}

// lateFinisherScript saves when asked for a checkpoint that leaves it
// running, then ends 100 ms later.
const lateFinisherScript = `
save() {
	echo 1 > "$WSKX_STATE_DIR/i"
	echo 1 > "$WSKX_STATE_DIR/.saved.tmp" && mv "$WSKX_STATE_DIR/.saved.tmp" "$WSKX_STATE_DIR/.saved"
	sleep 0.1; echo '{"finished": "late"}'; exit 0
}
trap save USR1
while :; do sleep 0.05; done
`

// TestStepSelfInvoke runs the baseline: at the deadline the step takes a
// checkpoint that leaves the job running, saves it, invokes the next hop
// itself through the REST API, and only then looks at the job. A job that
// ended in between is both returned and carried on by the next hop (the
// duplicate the experiments measure), and the time since its image is
// reported lost; a job whose exit beats the checkpoint is just returned.
func TestStepSelfInvoke(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		args     []string
		delay    time.Duration // of the API's answer to the invocation
		status   hop.Status
		finished any
		next     bool
		minLost  int64
	}{
		{"deadline checkpoint invokes the next hop", countScript, []string{"1000"}, 0, hop.Checkpointed, nil, true, 0},
		{"ended after its image: result and next hop", lateFinisherScript, nil, 300 * time.Millisecond, hop.Done, "late", true, 300},
		{"exit beats the checkpoint: result only", `trap 'echo "{\"finished\": \"early\"}"; exit 0' USR1; while :; do sleep 0.05; done`, nil, 0, hop.Done, "early", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &selfInvokeAPI{delay: tc.delay}
			srv := httptest.NewServer(api)
			defer srv.Close()
			s := stepSetup{engine: coop(t), store: newTestStore(t), timeout: 3 * time.Second, margin: "1500ms",
				deadline: true, script: tc.script, args: tc.args}
			c := s.containerWithAPI(t, srv.URL)
			c.initCode(t, composer.Code{Role: composer.RoleStep, Policy: yamlToJSON(t, s.policy(t)), Conductor: "/guest/c", Baseline: composer.BaselineSelfInvoke})
			req := hop.Request{Job: "jself", Hop: 1}
			st, out := c.post(t, "/run", runBody(map[string]any{"x": "y", hop.StepKey: req}, time.Now().Add(s.timeout)))
			if st != http.StatusOK {
				t.Fatalf("%d %v", st, out)
			}
			rep := report(t, out)
			if rep.Status != tc.status || out["finished"] != tc.finished || rep.Metrics.LostMS < tc.minLost {
				t.Fatalf("got %v (lost %d ms, want at least %d)", out, rep.Metrics.LostMS, tc.minLost)
			}
			api.mu.Lock()
			defer api.mu.Unlock()
			if !tc.next {
				if len(api.params) != 0 || out["$wskx_next"] != nil {
					t.Fatalf("a finished job invoked a next hop: %v", api.paths)
				}
				return
			}
			if rep.Generation != 1 || out["$wskx_next"] != "anext" {
				t.Fatalf("got %v", out)
			}
			if len(api.params) != 1 || api.paths[0] != "/api/v1/namespaces/guest/actions/step?blocking=false" {
				t.Fatalf("invocations %v %v", api.paths, api.params)
			}
			var next hop.Request
			b, _ := json.Marshal(api.params[0][hop.StepKey])
			_ = json.Unmarshal(b, &next)
			if next.Hop != 2 || next.Generation != 1 || api.params[0]["x"] != "y" {
				t.Errorf("next hop's parameters: %v", api.params[0])
			}
			if gens := s.store.gens(t, "jself"); len(gens) != 1 {
				t.Errorf("generations %v, want 1", gens)
			}
		})
	}
}

// checkpointEngines are the engines the step tests run the shell jobs
// with (the cooperative protocol is in the scripts).
func checkpointEngines(t *testing.T) []runner.Engine {
	return []runner.Engine{coop(t)}
}

// workloadEngines are the engines the C workloads run with: cooperative,
// and DMTCP where it is installed.
func workloadEngines(t *testing.T) []runner.Engine {
	out := []runner.Engine{coop(t)}
	e, err := dmtcp.New(dmtcp.Options{Logger: testLogger(t)})
	if err != nil {
		t.Logf("DMTCP variants skipped: %v", err)
		return out
	}
	return append(out, e)
}

func coop(t *testing.T) runner.Engine {
	e, err := cooperative.New(cooperative.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestConductorAndStep runs a chain through two containers, a conductor
// and a step, with the test playing OpenWhisk's controller loop: the
// conductor's continuation names the step, the step's result with the
// state laid over it goes back to the conductor.
func TestConductorAndStep(t *testing.T) {
	s := stepSetup{engine: coop(t), store: newTestStore(t), timeout: 1500 * time.Millisecond, margin: "500ms",
		deadline: true, script: countScript, args: []string{"${params.n}"}}
	policy := s.policy(t)
	step := newContainer(t, runner.Deps{
		Engine:    func(ctx context.Context, name string) (runner.Engine, error) { return s.engine, nil },
		OpenStore: s.store.opener(),
	}, nil)
	step.initStep(t, policy)
	cond := newContainer(t, runner.Deps{}, nil)
	cond.initCode(t, composer.Code{Role: composer.RoleConductor, Policy: yamlToJSON(t, policy), Step: "/guest/steptest-step"})
	input := map[string]any{"n": 30}
	var state map[string]any
	for i := range 30 {
		st, res := cond.post(t, "/run", runBody(input, time.Now().Add(time.Minute)))
		if st != http.StatusOK {
			t.Fatalf("conductor run %d: %d %v", i+1, st, res)
		}
		if _, ok := res["action"]; !ok {
			params, _ := res["params"].(map[string]any)
			if params == nil || params["count"] != 30.0 {
				t.Fatalf("final result %v, want count 30", res)
			}
			var sum hop.Summary
			b, _ := json.Marshal(params[hop.StateKey])
			_ = json.Unmarshal(b, &sum)
			if sum.Hops < 2 || sum.Totals.Checkpoints != sum.Hops-1 {
				t.Errorf("summary %+v: want at least 2 hops, one checkpoint per hop but the last", sum)
			}
			return
		}
		if res["action"] != "/guest/steptest-step" {
			t.Fatalf("continuation names %v", res["action"])
		}
		state, _ = res["state"].(map[string]any)
		params, _ := res["params"].(map[string]any)
		st, out := step.post(t, "/run", runBody(params, time.Now().Add(s.timeout)))
		if st != http.StatusOK {
			t.Fatalf("step: %d %v", st, out)
		}
		maps.Copy(out, state)
		input = out
	}
	t.Fatal("the chain did not end")
}

// failingStore breaks one operation of a working store.
type failingStore struct {
	runner.Store
	save, restore error
}

func (f failingStore) Save(ctx context.Context, job string, gen int, root string, files []string, meta runner.SaveMeta) error {
	if f.save != nil {
		return f.save
	}
	return f.Store.Save(ctx, job, gen, root, files, meta)
}

func (f failingStore) Restore(ctx context.Context, job string, upTo int, root, engine string) (int, error) {
	if f.restore != nil {
		return 0, f.restore
	}
	return f.Store.Restore(ctx, job, upTo, root, engine)
}

// TestStepStorageFailures: storage that cannot be opened, written or read
// back fails the hop as retryable, with the cause.
func TestStepStorageFailures(t *testing.T) {
	boom := fmt.Errorf("bucket unreachable")
	tests := []struct {
		name    string
		open    error
		store   failingStore
		prepare bool // save a generation first, so that the hop restores
		cause   string
	}{
		{name: "open", open: boom, cause: "open checkpoint storage"},
		{name: "save", store: failingStore{save: boom}, cause: "deadline checkpoint: save generation 1"},
		{name: "restore", store: failingStore{restore: boom}, prepare: true, cause: "restore generation 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := newTestStore(t)
			s := stepSetup{engine: coop(t), store: mem, timeout: 1200 * time.Millisecond, margin: "500ms",
				deadline: true, script: countScript, args: []string{"1000"}}
			if tc.prepare {
				dir := t.TempDir()
				if err := mem.Save(context.Background(), "jstore", 1, dir, nil, runner.SaveMeta{}); err != nil {
					t.Fatal(err)
				}
			}
			tc.store.Store = mem
			c := newContainer(t, runner.Deps{
				Engine: func(ctx context.Context, name string) (runner.Engine, error) { return s.engine, nil },
				OpenStore: func(ctx context.Context, st policies.Storage) (runner.Store, error) {
					if tc.open != nil {
						return nil, tc.open
					}
					return tc.store, nil
				},
			}, nil)
			c.initStep(t, s.policy(t))
			_, rep := runHop(t, c, hop.Request{Job: "jstore", Hop: 1, Attempt: 1}, s.timeout)
			if rep.Status != hop.Failed || !rep.Retryable || !strings.Contains(rep.Cause, tc.cause) || !strings.Contains(rep.Cause, boom.Error()) {
				t.Errorf("got %+v, want a retryable failure saying %q", rep, tc.cause)
			}
		})
	}
}

// TestStepMissingDMTCP: a policy that asks for DMTCP where it is not
// installed fails its hop for good, saying how to install it.
func TestStepMissingDMTCP(t *testing.T) {
	home := t.TempDir() // an installation prefix with no programs
	c := newContainer(t, runner.Deps{
		Engine: func(ctx context.Context, name string) (runner.Engine, error) {
			if name != "dmtcp" {
				t.Errorf("engine %q asked for, want dmtcp", name)
			}
			return dmtcp.New(dmtcp.Options{Home: home})
		},
		OpenStore: newTestStore(t).opener(),
	}, nil)
	c.initStep(t, fmt.Sprintf("job:\n  command: [%s, '3', '10']\n  engine: dmtcp\n  timeout: 10s\n  dir: %s\n",
		filepath.Join(workloads, "count"), t.TempDir()))
	_, rep := runHop(t, c, hop.Request{Job: "jnodmtcp", Hop: 1, Attempt: 1}, 5*time.Second)
	if rep.Status != hop.Failed || rep.Retryable || !strings.Contains(rep.Cause, "DMTCP is not installed") || !strings.Contains(rep.Cause, dmtcp.EnvHome) {
		t.Errorf("got %+v, want a final failure saying DMTCP is missing and how to install it", rep)
	}
}

// TestStepCallerCannotSelectSelfInvoke: a request asking for the
// self-invoke baseline gets a chain's step: no next hop invoked by the
// step, the lease taken, the one result committed.
func TestStepCallerCannotSelectSelfInvoke(t *testing.T) {
	api := &selfInvokeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := stepSetup{engine: coop(t), store: newTestStore(t), timeout: 3 * time.Second, margin: "1500ms",
		deadline: true, script: countScript, args: []string{"2"}}
	c := s.containerWithAPI(t, srv.URL)
	c.initStep(t, s.policy(t))
	req := map[string]any{"job": "jmode", "hop": 1, "attempt": 1, "mode": "self-invoke", "baseline": "self-invoke"}
	st, out := c.post(t, "/run", runBody(map[string]any{hop.StepKey: req}, time.Now().Add(s.timeout)))
	if st != http.StatusOK {
		t.Fatalf("%d %v", st, out)
	}
	if rep := report(t, out); rep.Status != hop.Done || out[hop.NextKey] != nil {
		t.Fatalf("got %v", out)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.params) != 0 {
		t.Errorf("the step invoked %v", api.paths)
	}
	if _, ok, _ := s.store.Result(context.Background(), "jmode"); !ok {
		t.Error("no result committed: the request switched off the one-result commit")
	}
	if _, held, _ := s.store.Lease(context.Background(), "jmode"); !held {
		t.Error("no lease taken: the request switched off the lease")
	}
}

// TestStepDamagedManifest: the newest generation's manifest is unreadable;
// the hop restores the one before, says so once in its report, and saves
// above the damaged number, so the job goes on.
func TestStepDamagedManifest(t *testing.T) {
	dir := t.TempDir()
	st, err := runner.OpenStore(context.Background(), policies.Storage{URL: "file://" + dir, Keep: 2, Checksum: "sha256"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	store := &testStore{st}
	s := stepSetup{engine: coop(t), store: store, timeout: 1500 * time.Millisecond, margin: "500ms",
		deadline: true, script: countScript, args: []string{"60"}, keep: 2}
	c := s.container(t)
	req := hop.Request{Job: "jdamage", Key: "jdamage", Hop: 1, Attempt: 1, Chain: "c1", Started: time.Now().UnixMilli()}
	for range 2 {
		if _, rep := runHop(t, c, req, s.timeout); rep.Status != hop.Checkpointed {
			t.Fatalf("setup hop: %+v", rep)
		}
	}
	manifest := filepath.Join(dir, "jobs", "jdamage", "gen-000002", "manifest.json")
	if err := os.WriteFile(manifest, []byte(`{"job": "jdamage", "gener`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, rep := runHop(t, c, req, s.timeout)
	if rep.Status != hop.Checkpointed || rep.Restored != 1 || rep.Generation != 3 || len(rep.Warnings) != 1 ||
		!strings.Contains(rep.Warnings[0], "manifest of generation 2 is unreadable") {
		t.Fatalf("got %+v, want generation 1 restored, generation 3 saved and the damage reported", rep)
	}
	out, rep := runHop(t, c, req, s.timeout)
	for rep.Status == hop.Checkpointed {
		if len(rep.Warnings) != 0 {
			t.Errorf("hop %d reported the damage again: %v", rep.Hop, rep.Warnings)
		}
		out, rep = runHop(t, c, req, s.timeout)
	}
	if rep.Status != hop.Done || out["count"] != 60.0 {
		t.Fatalf("got %v %+v, want the job done", out, rep)
	}
}

// unreachableStore's reads wait until their context ends, as an SDK
// retrying against a server that does not answer.
type unreachableStore struct{ runner.Store }

func (unreachableStore) Result(ctx context.Context, job string) ([]byte, bool, error) {
	<-ctx.Done()
	return nil, false, ctx.Err()
}

// TestStepFailsFastOnOutage: with storage that does not answer, a hop
// fails (retryably) after the bound of one store call, not at the end of
// its activation, so the conductor's backoff, not the outage, sets the pace.
func TestStepFailsFastOnOutage(t *testing.T) {
	s := stepSetup{engine: coop(t), store: newTestStore(t), timeout: 30 * time.Second, margin: "1s",
		deadline: true, script: countScript, args: []string{"2"}}
	c := newContainer(t, runner.Deps{
		Engine: func(ctx context.Context, name string) (runner.Engine, error) { return s.engine, nil },
		OpenStore: func(ctx context.Context, st policies.Storage) (runner.Store, error) {
			return unreachableStore{s.store.Store}, nil
		},
	}, nil)
	c.initStep(t, s.policy(t))
	t0 := time.Now()
	_, rep := runHop(t, c, hop.Request{Job: "joutage", Hop: 1, Attempt: 1}, s.timeout)
	took := time.Since(t0)
	if rep.Status != hop.Failed || !rep.Retryable || !strings.Contains(rep.Cause, "deadline exceeded") {
		t.Fatalf("got %+v, want a retryable failure naming the timeout", rep)
	}
	if took > s.timeout/2 {
		t.Errorf("the hop answered after %s of its %s: it waited out the outage", took.Round(time.Millisecond), s.timeout)
	}
}

// TestStepJobFolders: a DMTCP job runs in the same folder in every
// container (its image names absolute paths); a job of another engine in a
// folder of its activation's own, which no other activation touches.
func TestStepJobFolders(t *testing.T) {
	for _, eng := range workloadEngines(t) {
		t.Run(eng.Name(), func(t *testing.T) {
			s := stepSetup{engine: eng, store: newTestStore(t), timeout: 5 * time.Second, margin: "2s",
				deadline: true, script: `echo "{\"dir\": \"$PWD\"}"`}
			c := s.container(t)
			out, rep := runHop(t, c, hop.Request{Job: "jfolder", Hop: 1, Attempt: 1}, s.timeout)
			dir, _ := out["dir"].(string)
			if rep.Status != hop.Done || filepath.Base(dir) != "work" {
				t.Fatalf("got %v %+v", out, rep)
			}
			folder := filepath.Base(filepath.Dir(dir))
			if fixed := eng.Name() == "dmtcp"; fixed && folder != "jfolder" || !fixed && !strings.HasPrefix(folder, "jfolder.a") {
				t.Errorf("the job ran in %s", dir)
			}
		})
	}
}
