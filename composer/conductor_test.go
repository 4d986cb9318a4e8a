package composer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

const testStep = "/_/job-step"

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func testPolicy(t *testing.T, chain string) *policies.Policy {
	t.Helper()
	src := "name: job\njob:\n  command: [/bin/job, \"${params.n}\"]\n  timeout: 10s\n" + chain
	p, err := policies.Parse([]byte(src), "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testSecret is the deployment's secret in these tests.
var testSecret = mustSecret(hop.NewSecret())

func mustSecret(s string) []byte {
	b, err := hop.ParseSecret(s)
	if err != nil {
		panic(err)
	}
	return b
}

func testEnv(p *policies.Policy, now time.Time) Env {
	return Env{Flow: mustFlow(p), Secret: testSecret, Now: now, NewID: fixedKey}
}

// mustFlow is the single-job flow of p, whose step is testStep.
func mustFlow(p *policies.Policy) *Flow {
	f, err := SingleFlow(p, testStep)
	if err != nil {
		panic(err)
	}
	return f
}

// stateAfter is the controller's side of the protocol: the step's result
// with the continuation's state laid over it. A report in the step's
// result is signed as the step signs it, for the job it was asked about.
func stateAfter(t *testing.T, d Decision, stepResult map[string]any) map[string]any {
	t.Helper()
	if d.Result["action"] != testStep {
		t.Fatalf("expected a continuation to the step, got %v", d.Result)
	}
	in := map[string]any{}
	for k, v := range stepResult {
		in[k] = v
	}
	if _, ok := stepResult[hop.StepKey]; ok {
		rep, _, err := hop.DecodeReport(roundTrip(t, stepResult))
		if err != nil {
			t.Fatal(err)
		}
		rep.Job = request(t, d).Job
		if err := rep.Sign(testSecret, roundTrip(t, stepResult)); err != nil {
			t.Fatal(err)
		}
		in[hop.StepKey] = rep
	}
	for k, v := range d.Result["state"].(map[string]any) {
		in[k] = v
	}
	return roundTrip(t, in)
}

// roundTrip passes a value through JSON, as the controller does.
func roundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func report(status hop.Status, gen int, extra map[string]any) map[string]any {
	out := map[string]any{hop.StepKey: hop.Report{Status: status, Generation: gen, Engine: "cooperative",
		Metrics: hop.Metrics{WorkMS: 8000, CheckpointMS: 300, ImageBytes: 1000}}}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func request(t *testing.T, d Decision) hop.Request {
	t.Helper()
	var r hop.Request
	params, _ := d.Result["params"].(map[string]any)
	if err := remarshal(params[hop.StepKey], &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func errorOf(d Decision) map[string]any {
	e, _ := d.Result["error"].(map[string]any)
	return e
}

func fixedKey() string { return "generated-key" }

func TestDecide(t *testing.T) {
	type step struct {
		result map[string]any // the step's result (nil: first run, input is params)
		after  time.Duration  // when the conductor runs, from t0
	}
	tests := []struct {
		name  string
		chain string
		steps []step
		check func(t *testing.T, d Decision)
	}{
		{
			name:  "first hop",
			steps: []step{{}},
			check: func(t *testing.T, d Decision) {
				r := request(t, d)
				if r.Hop != 1 || r.Attempt != 1 || r.Generation != 0 || r.Key != "generated-key" || r.Job != JobID("job", "generated-key") {
					t.Errorf("request = %+v", r)
				}
				if p := d.Result["params"].(map[string]any); p["n"] != 3.0 {
					t.Errorf("job parameters not passed to the step: %v", p)
				}
			},
		},
		{
			name:  "idempotency key from the policy",
			chain: "chain:\n  idempotency_key: '\"n-\" + string(params.n)'\n",
			steps: []step{{}},
			check: func(t *testing.T, d Decision) {
				if r := request(t, d); r.Key != "n-3" {
					t.Errorf("key = %q, want n-3", r.Key)
				}
			},
		},
		{
			name:  "checkpointed hop asks for the next from the new generation",
			steps: []step{{}, {result: report(hop.Checkpointed, 1, nil), after: 10 * time.Second}},
			check: func(t *testing.T, d Decision) {
				r := request(t, d)
				if r.Hop != 2 || r.Attempt != 1 || r.Generation != 1 || r.Last.CheckpointMS != 300 {
					t.Errorf("request = %+v", r)
				}
			},
		},
		{
			name: "finished hop returns the job's output and a summary",
			steps: []step{{}, {result: report(hop.Checkpointed, 1, nil), after: 10 * time.Second},
				{result: report(hop.Done, 1, map[string]any{"count": 25.0}), after: 15 * time.Second}},
			check: func(t *testing.T, d Decision) {
				if _, ok := d.Result["action"]; ok {
					t.Fatalf("a finished job continued: %v", d.Result)
				}
				out := d.Result["params"].(map[string]any)
				if out["count"] != 25.0 {
					t.Errorf("job output not at the top level: %v", out)
				}
				if _, leaked := out[hop.StepKey]; leaked {
					t.Errorf("step report leaked into the result: %v", out)
				}
				var s hop.Summary
				if err := remarshal(out[hop.StateKey], &s); err != nil {
					t.Fatal(err)
				}
				if s.Hops != 2 || s.Generation != 1 || s.ElapsedMS != 15000 || s.Totals.WorkMS != 16000 || s.Engine != "cooperative" {
					t.Errorf("summary = %+v", s)
				}
			},
		},
		{
			name:  "failed hop is retried from the newest generation with backoff",
			chain: "chain:\n  retries: {max: 2, backoff: 1s}\n",
			steps: []step{{}, {result: report(hop.Checkpointed, 1, nil)},
				{result: map[string]any{"error": "The action exceeded its time limits of 10000 milliseconds."}}},
			check: func(t *testing.T, d Decision) {
				r := request(t, d)
				if r.Hop != 2 || r.Attempt != 2 || r.Generation != 1 || r.BackoffMS != 1000 {
					t.Errorf("request = %+v", r)
				}
			},
		},
		{
			name: "retry restores the newer generation a failed hop wrote",
			steps: []step{{}, {result: map[string]any{hop.StepKey: hop.Report{Status: hop.Failed, Retryable: true,
				Generation: 2, Cause: "upload failed"}}}},
			check: func(t *testing.T, d Decision) {
				if r := request(t, d); r.Attempt != 2 || r.Generation != 2 {
					t.Errorf("request = %+v", r)
				}
			},
		},
		{
			name:  "a failure that is not retryable ends the chain at the newest generation",
			steps: []step{{}, {result: report(hop.Failed, 2, map[string]any{})}},
			check: func(t *testing.T, d Decision) {
				e := errorOf(d)
				if e == nil || e["generation"] != 2.0 || !strings.Contains(e["message"].(string), "the hop failed") {
					t.Errorf("result = %v", d.Result)
				}
			},
		},
		{
			name:  "backoff doubles up to the maximum",
			chain: "chain:\n  retries: {max: 5, backoff: 1s, max_backoff: 3s}\n",
			steps: []step{{}, {result: map[string]any{"error": "x"}}, {result: map[string]any{"error": "x"}}, {result: map[string]any{"error": "x"}}},
			check: func(t *testing.T, d Decision) {
				if r := request(t, d); r.Attempt != 4 || r.BackoffMS != 3000 {
					t.Errorf("request = %+v", r)
				}
			},
		},
		{
			name:  "retries exhausted",
			chain: "chain:\n  retries: {max: 1}\n",
			steps: []step{{}, {result: map[string]any{"error": "boom"}}, {result: map[string]any{"error": "boom again"}}},
			check: func(t *testing.T, d Decision) {
				e := errorOf(d)
				if e == nil || e["reason"] != "retries" || !strings.Contains(e["message"].(string), "boom again (after 2 attempts)") {
					t.Errorf("result = %v", d.Result)
				}
				if !strings.Contains(e["message"].(string), "wskx resume NAME generated-key") {
					t.Errorf("error does not say how to resume: %v", e)
				}
			},
		},
		{
			name: "job failure is not retried",
			steps: []step{{}, {result: map[string]any{hop.StepKey: hop.Report{Status: hop.Failed, Cause: "the job failed",
				ExitCode: 3, StderrTail: "bad input\n"}}}},
			check: func(t *testing.T, d Decision) {
				e := errorOf(d)
				if e == nil || e["reason"] != "failed" || !strings.Contains(e["message"].(string), "the job failed (exit code 3); stderr: bad input") {
					t.Errorf("result = %v", d.Result)
				}
			},
		},
		{
			name:  "max hops",
			chain: "chain:\n  max_hops: 2\n",
			steps: []step{{}, {result: report(hop.Checkpointed, 1, nil)}, {result: report(hop.Checkpointed, 2, nil)}},
			check: func(t *testing.T, d Decision) {
				if e := errorOf(d); e == nil || e["reason"] != "max_hops" || e["generation"] != 2.0 || e["hop"] != 3.0 {
					t.Errorf("result = %v", d.Result)
				}
			},
		},
		{
			name:  "max duration",
			chain: "chain:\n  max_duration: 1m\n",
			steps: []step{{}, {result: report(hop.Checkpointed, 1, nil), after: 61 * time.Second}},
			check: func(t *testing.T, d Decision) {
				if e := errorOf(d); e == nil || e["reason"] != "max_duration" {
					t.Errorf("result = %v", d.Result)
				}
			},
		},
		{
			name:  "continue condition false",
			chain: "chain:\n  continue: hop < 3 && last.bytes < 5000\n",
			steps: []step{{}, {result: report(hop.Checkpointed, 1, nil)}, {result: report(hop.Checkpointed, 2, nil)}},
			check: func(t *testing.T, d Decision) {
				if e := errorOf(d); e == nil || e["reason"] != "continue" || !strings.Contains(e["message"].(string), "is false") {
					t.Errorf("result = %v", d.Result)
				}
			},
		},
		{
			name:  "continue condition true goes on",
			chain: "chain:\n  continue: hop < 3 && last.bytes < 5000\n",
			steps: []step{{}, {result: report(hop.Checkpointed, 1, nil)}},
			check: func(t *testing.T, d Decision) {
				if r := request(t, d); r.Hop != 2 {
					t.Errorf("request = %+v", r)
				}
			},
		},
		{
			name:  "length limit with on_length_limit fail",
			chain: "chain:\n  length_limit: 2\n  on_length_limit: fail\n  retries: {max: 1}\n",
			steps: []step{{}, {result: report(hop.Checkpointed, 1, nil)}, {result: report(hop.Checkpointed, 2, nil)}},
			check: func(t *testing.T, d Decision) {
				if e := errorOf(d); e == nil || e["reason"] != "length_limit" || e["generation"] != 2.0 {
					t.Errorf("result = %v", d.Result)
				}
			},
		},
		{
			name:  "length limit hands the job to a new invocation",
			chain: "chain:\n  length_limit: 2\n  retries: {max: 1}\n",
			steps: []step{{}, {result: report(hop.Checkpointed, 1, nil)}, {result: report(hop.Checkpointed, 2, nil)}},
			check: func(t *testing.T, d Decision) {
				if d.Handoff == nil {
					t.Fatalf("no handoff: %v", d.Result)
				}
				var st carried
				if err := hop.Open(testSecret, hop.PurposeHandoff, d.Handoff[hop.StateKey], &st); err != nil {
					t.Fatal(err)
				}
				if st.Job == nil || st.Job.Hop != 3 || st.Job.Generation != 2 || st.Components != 0 || st.Key != "generated-key" || st.Pending == nil {
					t.Errorf("handed state = %+v", st)
				}
			},
		},
		{
			name:  "step answer without a report is a retryable failure",
			steps: []step{{}, {result: map[string]any{"unexpected": true}}},
			check: func(t *testing.T, d Decision) {
				if r := request(t, d); r.Attempt != 2 {
					t.Errorf("request = %+v", r)
				}
			},
		},
		{
			name:  "unknown status is a retryable failure",
			steps: []step{{}, {result: map[string]any{hop.StepKey: map[string]any{"status": "paused"}}}},
			check: func(t *testing.T, d Decision) {
				if r := request(t, d); r.Attempt != 2 {
					t.Errorf("request = %+v", r)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy(t, tt.chain)
			input := map[string]any{"n": 3.0}
			var d Decision
			for i, s := range tt.steps {
				if i > 0 {
					input = stateAfter(t, d, s.result)
				}
				d = Decide(testEnv(p, t0.Add(s.after)), input)
				if d.Result != nil {
					d.Result = roundTrip(t, d.Result)
				}
			}
			tt.check(t, d)
		})
	}
}

func TestDecideHandedOverJob(t *testing.T) {
	p := testPolicy(t, "chain:\n  length_limit: 3\n")
	st := carried{Key: "k", Chain: "c1", Started: t0.UnixMilli(), Invocation: 1, Issued: t0.UnixMilli(), Pending: &pending{},
		Job: &jobState{State: hop.State{Job: JobID("job", "k"), Key: "k", Hop: 3, Attempt: 2, Retries: 4, Generation: 2, Started: t0.UnixMilli(),
			Params: map[string]any{"n": 3.0}, Chain: "c1"}}}
	token, err := hop.Seal(testSecret, hop.PurposeHandoff, st)
	if err != nil {
		t.Fatal(err)
	}
	d := Decide(testEnv(p, t0.Add(time.Minute)), roundTrip(t, map[string]any{hop.StateKey: token}))
	r := request(t, d)
	if r.Hop != 3 || r.Attempt != 2 || r.Generation != 2 || r.Key != "k" || r.Started != t0.UnixMilli() || r.Chain != "c1" {
		t.Errorf("request = %+v, want hop 3 attempt 2 of chain c1: a hand-over keeps budgets and hop numbers", r)
	}
	var carriedState carried
	if err := hop.Open(testSecret, hop.PurposeState, d.Result["state"].(map[string]any)[hop.StateKey], &carriedState); err != nil {
		t.Fatal(err)
	}
	if carriedState.Invocation != 2 || carriedState.Components != 1 || carriedState.Job.Retries != 4 {
		t.Errorf("state = %+v", carriedState)
	}
}

func TestDecideRejectsReservedParameter(t *testing.T) {
	p := testPolicy(t, "")
	d := Decide(testEnv(p, t0), map[string]any{hop.StepKey: map[string]any{}})
	if e := errorOf(d); e == nil || !strings.Contains(e["message"].(string), "reserved") {
		t.Errorf("result = %v", d.Result)
	}
}

func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
