package composer

import (
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

// firstContinuation starts a job and returns the conductor's continuation.
func firstContinuation(t *testing.T, p *policies.Policy) Decision {
	t.Helper()
	d := Decide(testEnv(p, t0), map[string]any{"n": 3.0})
	d.Result = roundTrip(t, d.Result)
	return d
}

// TestDecideRefusesForgedState: a state this deployment did not write is
// refused on any run, whatever it claims; nothing is asked of the step.
func TestDecideRefusesForgedState(t *testing.T) {
	p := testPolicy(t, "chain:\n  idempotency_key: '\"count-\" + string(params.n)'\n")
	genuine := firstContinuation(t, p).Result["state"].(map[string]any)[hop.StateKey].(string)
	other, err := hop.Seal(mustSecret(hop.NewSecret()), hop.PurposeState, carried{Key: "count-20", Components: 1, Job: &jobState{State: hop.State{Job: JobID("job", "count-20"), Key: "count-20"}}})
	if err != nil {
		t.Fatal(err)
	}
	flip := []byte(genuine)
	flip[10] ^= 1
	tests := []struct {
		name  string
		state any
	}{
		{"plain object claiming a key", map[string]any{"key": "count-20", "params": map[string]any{"n": 3}}},
		{"plain object claiming a finished hop", map[string]any{"key": "count-20", "hop": 4, "components": 3, "attempt": 0}},
		{"altered token", string(flip)},
		{"truncated token", genuine[:len(genuine)-6]},
		{"token without its MAC", strings.Join(strings.Split(genuine, ".")[:2], ".")},
		{"token sealed with another deployment's key", other},
		{"a number", 42.0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := roundTrip(t, map[string]any{"n": 3.0, hop.StateKey: tc.state,
				hop.StepKey: hop.Report{Job: JobID("job", "count-20"), Status: hop.Done}, "count": 999})
			d := Decide(testEnv(p, t0), input)
			e := errorOf(d)
			if e == nil || e["reason"] != "state" || !strings.Contains(e["message"].(string), "not a state this deployment wrote") {
				t.Fatalf("got %v, want the state refused", d.Result)
			}
		})
	}
}

// TestDecideRefusesReplayedState: a genuine state or hand-over taken from
// a record and sent again after it could still be in flight is refused.
func TestDecideRefusesReplayedState(t *testing.T) {
	p := testPolicy(t, "chain:\n  length_limit: 2\n  retries: {max: 1}\n")
	d := firstContinuation(t, p)
	state := d.Result["state"].(map[string]any)
	// In flight: accepted (the step's lease then says where the job stands).
	later := Decide(testEnv(p, t0.Add(inFlight(p)-time.Second)), roundTrip(t, state))
	if later.Result["action"] != testStep {
		t.Fatalf("a state within its age was refused: %v", later.Result)
	}
	d = Decide(testEnv(p, t0), stateAfter(t, d, report(hop.Checkpointed, 1, nil)))
	d = Decide(testEnv(p, t0), stateAfter(t, roundTripDecision(t, d), report(hop.Checkpointed, 2, nil)))
	if d.Handoff == nil {
		t.Fatalf("no hand-over: %v", d.Result)
	}
	for _, tc := range []struct {
		name  string
		input map[string]any
		at    time.Time
	}{
		{"continuation state replayed later", state, t0.Add(inFlight(p) + time.Second)},
		{"hand-over replayed later", d.Handoff, t0.Add(handoffAge + time.Second)},
		{"state from the future", state, t0.Add(-2 * clockSkew)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(testEnv(p, tc.at), roundTrip(t, tc.input))
			if e := errorOf(got); e == nil || e["reason"] != "state" || !strings.Contains(e["message"].(string), "replayed") {
				t.Errorf("got %v, want the replay refused", got.Result)
			}
		})
	}
}

// inFlight is how long a state waiting for p's step is good for.
func inFlight(p *policies.Policy) time.Duration {
	return mustFlow(p).inFlight(carried{Job: &jobState{}})
}

func roundTripDecision(t *testing.T, d Decision) Decision {
	t.Helper()
	d.Result = roundTrip(t, d.Result)
	return d
}

// TestDecideRefusesForgedReport: with a genuine state, a step report that
// the step did not sign (or signed for another output or another job) is
// never taken for the job's end; the hop is asked for again.
func TestDecideRefusesForgedReport(t *testing.T) {
	p := testPolicy(t, "")
	d := firstContinuation(t, p)
	job := request(t, d).Job
	signed := func(r hop.Report, out map[string]any) hop.Report {
		if err := r.Sign(testSecret, roundTrip(t, out)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	out := map[string]any{"count": 25.0}
	tests := []struct {
		name   string
		result map[string]any
	}{
		{"unsigned done", map[string]any{"count": 999, hop.StepKey: hop.Report{Job: job, Status: hop.Done}}},
		{"signed for another output", map[string]any{"count": 999, hop.StepKey: signed(hop.Report{Job: job, Status: hop.Done}, out)}},
		{"signed with another key", map[string]any{"count": 999, hop.StepKey: func() hop.Report {
			r := hop.Report{Job: job, Status: hop.Done}
			_ = r.Sign(mustSecret(hop.NewSecret()), map[string]any{"count": 999})
			return r
		}()}},
		{"another job's genuine report", map[string]any{"count": 25.0, hop.StepKey: signed(hop.Report{Job: "jother", Status: hop.Done}, out)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]any{}
			for k, v := range tc.result {
				in[k] = v
			}
			for k, v := range d.Result["state"].(map[string]any) {
				in[k] = v
			}
			next := Decide(testEnv(p, t0.Add(time.Second)), roundTrip(t, in))
			if _, isFinal := next.Result["params"].(map[string]any)["count"]; isFinal || next.Result["action"] != testStep {
				t.Fatalf("got %v, want the hop asked for again", next.Result)
			}
			if r := request(t, next); r.Attempt != 2 {
				t.Errorf("request %+v, want attempt 2", r)
			}
		})
	}
	// The genuine report with its own output is the job's end.
	in := map[string]any{"count": 25.0, hop.StepKey: signed(hop.Report{Job: job, Status: hop.Done}, out)}
	for k, v := range d.Result["state"].(map[string]any) {
		in[k] = v
	}
	final := Decide(testEnv(p, t0.Add(time.Second)), roundTrip(t, in))
	if got, _ := final.Result["params"].(map[string]any); got == nil || got["count"] != 25.0 {
		t.Errorf("genuine report: %v", final.Result)
	}
}

// TestBackoff: the wait doubles per attempt, bounded whatever the number.
func TestBackoff(t *testing.T) {
	r := policies.Retries{Backoff: time.Second, MaxBackoff: 30 * time.Second}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{{-5, time.Second}, {0, time.Second}, {2, time.Second}, {3, 2 * time.Second}, {6, 16 * time.Second}, {7, 30 * time.Second}, {1000, 30 * time.Second}} {
		if got := backoff(r, tc.attempt); got != tc.want {
			t.Errorf("backoff(attempt %d) = %s, want %s", tc.attempt, got, tc.want)
		}
	}
}

// TestDecideRetriesAcrossHandoff: an always-failing hop ends after
// retries.max retries, even when the attempts straddle a hand-over.
func TestDecideRetriesAcrossHandoff(t *testing.T) {
	p := testPolicy(t, "chain:\n  length_limit: 3\n  retries: {max: 2, backoff: 1s}\n")
	d := firstContinuation(t, p)
	d = Decide(testEnv(p, t0), stateAfter(t, d, report(hop.Checkpointed, 1, nil)))
	attempts, handoffs := 0, 0
	for range 20 {
		switch {
		case d.Handoff != nil:
			handoffs++
			d = Decide(testEnv(p, t0), roundTrip(t, d.Handoff))
		case d.Result["action"] == testStep:
			attempts++
			d = Decide(testEnv(p, t0), stateAfter(t, d, map[string]any{"error": "The action exceeded its time limits."}))
		default:
			e := errorOf(d)
			if e == nil || e["reason"] != "retries" || attempts != 3 || handoffs != 1 {
				t.Fatalf("ended with %v after %d attempts and %d hand-overs; want the retries error after 3 attempts across 1 hand-over", d.Result, attempts, handoffs)
			}
			return
		}
		if d.Result != nil {
			d.Result = roundTrip(t, d.Result)
		}
	}
	t.Fatalf("no end after %d attempts and %d hand-overs", attempts, handoffs)
}

// TestDecideResume: a job named by its key starts as a new invocation of
// that key, with a new chain; a key that does not match the parameters
// under the policy's key expression is refused.
func TestDecideResume(t *testing.T) {
	p := testPolicy(t, "chain:\n  idempotency_key: '\"count-\" + string(params.n)'\n")
	d := Decide(testEnv(p, t0), map[string]any{hop.ResumeKey: "count-3", "n": 3.0})
	if r := request(t, d); r.Key != "count-3" || r.FromRecord || r.Job != JobID("job", "count-3") {
		t.Errorf("resume with parameters: %+v", r)
	}
	d = Decide(testEnv(p, t0), map[string]any{hop.ResumeKey: "count-3"})
	if r := request(t, d); r.Key != "count-3" || !r.FromRecord {
		t.Errorf("resume without parameters: %+v, want the recorded parameters asked for", r)
	}
	d = Decide(testEnv(p, t0), map[string]any{hop.ResumeKey: "count-20", "n": 3.0})
	if e := errorOf(d); e == nil || !strings.Contains(e["message"].(string), "does not match the parameters") {
		t.Errorf("mismatched key: %v", d.Result)
	}
	d = Decide(testEnv(p, t0), map[string]any{hop.ResumeKey: 7.0})
	if e := errorOf(d); e == nil {
		t.Errorf("non-string key accepted: %v", d.Result)
	}
}
