package composer

import (
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

const fuzzPolicy = "name: job\njob:\n  command: [/bin/job]\n  timeout: 10s\nchain:\n  idempotency_key: '\"k-\" + string(params.n ?? 0)'\n  retries: {max: 2, backoff: 1s}\n"

// fuzzSecret is fixed so that the seed corpus's genuine states verify.
var fuzzSecret = func() []byte { s := sha256.Sum256([]byte("wskx fuzz secret")); return s[:] }()

// FuzzDecide feeds arbitrary conductor inputs to Decide. Whatever the
// input, Decide must not panic, must answer with one of the protocol's
// three shapes, and must never end a job successfully on a report the
// step did not sign for that output.
func FuzzDecide(f *testing.F) {
	f.Add([]byte(`{"n": 3}`))
	f.Add([]byte(`{"$wskx": {"key": "count-20", "params": {"n": 3}}}`))
	f.Add([]byte(`{"$wskx": {"key": "k", "attempt": 0, "components": 2}, "error": "x"}`))
	p, err := policies.Parse([]byte(fuzzPolicy), "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var input map[string]any
		if json.Unmarshal(data, &input) != nil || input == nil {
			return
		}
		d := Decide(Env{Flow: mustFlow(p), Secret: fuzzSecret, Now: t0, NewID: fixedKey}, input)
		if d.Handoff != nil {
			if d.Result != nil {
				t.Fatalf("both a hand-over and a result: %v", d.Result)
			}
			return
		}
		if _, err := json.Marshal(d.Result); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
		_, isErr := d.Result["error"]
		action, isCall := d.Result["action"]
		params, isFinal := d.Result["params"].(map[string]any)
		switch {
		case isErr:
		case isCall:
			if action != testStep {
				t.Fatalf("continuation to %v", action)
			}
		case isFinal:
			rep, ok, err := hop.DecodeReport(input)
			if !ok || err != nil || rep.Status != hop.Done || rep.Verify(fuzzSecret, input) != nil {
				t.Fatalf("a job ended with %v on an unverified report", params)
			}
		default:
			t.Fatalf("result of no known shape: %v", d.Result)
		}
	})
}

// TestWriteFuzzSeeds writes seeds with genuine states when asked; the
// committed corpus was made with it.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := testingSeedDir()
	if dir == "" {
		t.Skip("set WSKX_WRITE_FUZZ_SEEDS=DIR to write FuzzDecide seeds with genuine states")
	}
	p, err := policies.Parse([]byte(fuzzPolicy), "fuzz")
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Flow: mustFlow(p), Secret: fuzzSecret, Now: t0, NewID: fixedKey}
	d := Decide(env, map[string]any{"n": 3.0})
	d.Result = roundTrip(t, d.Result)
	state := d.Result["state"].(map[string]any)
	job := request(t, d).Job
	out := map[string]any{"count": 25.0}
	done := hop.Report{Job: job, Hop: 2, Attempt: 1, Status: hop.Done}
	if err := done.Sign(fuzzSecret, out); err != nil {
		t.Fatal(err)
	}
	ck := hop.Report{Job: job, Hop: 1, Attempt: 1, Status: hop.Checkpointed, Generation: 1}
	if err := ck.Sign(fuzzSecret, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	seeds := map[string]map[string]any{
		"genuine-done":         {"count": 25.0, hop.StepKey: done, hop.StateKey: state[hop.StateKey]},
		"genuine-checkpointed": {hop.StepKey: ck, hop.StateKey: state[hop.StateKey]},
		"genuine-state-error":  {"error": "The action exceeded its time limits.", hop.StateKey: state[hop.StateKey]},
	}
	for name, in := range seeds {
		b, _ := json.Marshal(in)
		writeSeed(t, dir, name, b)
	}
}
