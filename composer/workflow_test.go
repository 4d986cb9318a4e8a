package composer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

// component is a fake component for the conductor: an action's result for
// its input, or a step's report and output for its request.
type component func(params map[string]any, req hop.Request) (result map[string]any, rep *hop.Report)

// controller drives Decide as OpenWhisk's controller would: it runs each
// continuation's component, lays the state over its result, and starts a
// new invocation with a hand-over's input. It returns the final result,
// the components run in order and the number of invocations.
func controller(t *testing.T, f *Flow, input map[string]any, comps map[string]component) (map[string]any, []string, int) {
	t.Helper()
	env := Env{Flow: f, Secret: testSecret, Now: t0, NewID: fixedKey}
	in := roundTrip(t, input)
	var ran []string
	invocations := 1
	for range 500 {
		d := Decide(env, in)
		if d.Handoff != nil {
			invocations++
			in = roundTrip(t, d.Handoff)
			continue
		}
		res := roundTrip(t, d.Result)
		action, ok := res["action"].(string)
		if !ok {
			return res, ran, invocations
		}
		ran = append(ran, action)
		c, known := comps[action]
		if !known {
			t.Fatalf("the conductor asked for %q, which the test lacks (ran %v)", action, ran)
		}
		params, _ := res["params"].(map[string]any)
		req, _, err := hop.RequestOf(params)
		if err != nil {
			t.Fatal(err)
		}
		out, rep := c(hop.StripReserved(params), req)
		out = roundTrip(t, out)
		if rep != nil {
			rep.Job, rep.Hop, rep.Attempt = req.Job, req.Hop, req.Attempt
			if err := rep.Sign(testSecret, out); err != nil {
				t.Fatal(err)
			}
			out = roundTrip(t, hop.WithReport(out, *rep))
		}
		for k, v := range res["state"].(map[string]any) {
			out[k] = v
		}
		in = out
	}
	t.Fatalf("no end after 500 conductor runs (ran %v)", ran)
	return nil, nil, 0
}

func testWorkflow(t *testing.T, src string) *Flow {
	t.Helper()
	w, err := policies.ParseWorkflow([]byte(src), "w.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := workflowCode(w, func(n *policies.Node) string { return "/_/w-step-" + n.Job.Name })
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFlow(c)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const jobNode = `job: {name: count, job: {command: [/bin/count], engine: cooperative, timeout: 10s}, chain: {retries: {max: 1, backoff: 1s}}}`

// hops is a step that checkpoints until hop n, then ends with out.
func hops(n int, out map[string]any) component {
	return func(params map[string]any, req hop.Request) (map[string]any, *hop.Report) {
		if req.Hop < n {
			return map[string]any{}, &hop.Report{Status: hop.Checkpointed, Generation: req.Hop}
		}
		return out, &hop.Report{Status: hop.Done, Generation: req.Hop}
	}
}

func action(f func(map[string]any) map[string]any) component {
	return func(p map[string]any, _ hop.Request) (map[string]any, *hop.Report) { return f(p), nil }
}

func TestWorkflowDecide(t *testing.T) {
	inc := action(func(p map[string]any) map[string]any { return map[string]any{"n": p["n"].(float64) + 1} })
	tests := []struct {
		name        string
		src         string
		input       map[string]any
		comps       map[string]component
		want        string // a piece of the final result's JSON
		ran         string
		invocations int
	}{
		{
			name:  "functions only end in the first run",
			src:   "composition:\n  function: '{\"m\": params.n * 2}'\n",
			input: map[string]any{"n": 3}, want: `"m":6`, ran: "", invocations: 1,
		},
		{
			name:  "a job between actions gets the action's result and gives its own",
			src:   "composition:\n  sequence: [inc, {" + jobNode + "}, inc]\n",
			input: map[string]any{"n": 1},
			comps: map[string]component{"inc": inc, "/_/w-step-count": hops(3, map[string]any{"n": 10.0})},
			want:  `"n":11`, ran: "inc /_/w-step-count /_/w-step-count /_/w-step-count inc", invocations: 1,
		},
		{
			name:  "a failing job's error goes to catch",
			src:   "composition:\n  try:\n    do: {" + jobNode + "}\n    catch: {function: '{\"caught\": params.error.reason}'}\n",
			input: map[string]any{},
			comps: map[string]component{"/_/w-step-count": func(map[string]any, hop.Request) (map[string]any, *hop.Report) {
				return map[string]any{}, &hop.Report{Status: hop.Failed, Cause: "boom", Retryable: true}
			}},
			want: `"caught":"retries"`, ran: "/_/w-step-count /_/w-step-count", invocations: 1,
		},
		{
			name:  "an uncaught error is the conductor's error result",
			src:   "composition:\n  sequence: [inc, fail, inc]\n",
			input: map[string]any{"n": 1},
			comps: map[string]component{"inc": inc, "fail": action(func(map[string]any) map[string]any { return map[string]any{"error": "no", "n": 5} })},
			want:  `{"error":"no"}`, ran: "inc fail", invocations: 1,
		},
		{
			name:  "past the length limit the workflow moves on in new invocations",
			src:   "length_limit: 3\ncomposition:\n  sequence: [inc, inc, {" + jobNode + "}, inc, inc]\n",
			input: map[string]any{"n": 1},
			comps: map[string]component{"inc": inc, "/_/w-step-count": hops(4, map[string]any{"n": 100.0})},
			want:  `"n":102`, ran: "inc inc /_/w-step-count /_/w-step-count /_/w-step-count /_/w-step-count inc inc", invocations: 3,
		},
		{
			name: "variables survive hand-overs",
			src: "length_limit: 1\ncomposition:\n  let:\n    vars: {k: 0}\n    do:\n      sequence:\n        - repeat:\n            times: 3\n            do: {sequence: [inc, {set: {k: 'k + params.n'}}]}\n" +
				"        - function: '{\"n\": params.n, \"k\": k}'\n",
			input: map[string]any{"n": 0},
			comps: map[string]component{"inc": inc},
			want:  `"k":6`, ran: "inc inc inc", invocations: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := testWorkflow(t, tt.src)
			res, ran, inv := controller(t, f, tt.input, tt.comps)
			b := fmt.Sprint(mustJSON(t, res))
			if !strings.Contains(b, tt.want) {
				t.Errorf("result %s, want %s", b, tt.want)
			}
			if got := strings.Join(ran, " "); got != tt.ran {
				t.Errorf("ran %q, want %q", got, tt.ran)
			}
			if inv != tt.invocations {
				t.Errorf("%d invocations, want %d", inv, tt.invocations)
			}
		})
	}
}

// TestWorkflowRefusedComponent: when the platform refuses a component
// because an outer composition reached the limit first, the component did
// not run: the workflow moves to a new invocation that runs it, a job's
// step with the same hop and attempt.
func TestWorkflowRefusedComponent(t *testing.T) {
	refusals := map[string]int{}
	refuseOnce := func(name string, c component) component {
		return func(p map[string]any, req hop.Request) (map[string]any, *hop.Report) {
			if refusals[name]++; refusals[name] == 1 {
				return map[string]any{"error": "Too many actions in the composition."}, nil
			}
			return c(p, req)
		}
	}
	var reqs []hop.Request
	step := hops(2, map[string]any{"n": 5.0})
	comps := map[string]component{
		"inc": refuseOnce("inc", action(func(p map[string]any) map[string]any { return map[string]any{"n": p["n"].(float64) + 1} })),
		"/_/w-step-count": refuseOnce("step", func(p map[string]any, req hop.Request) (map[string]any, *hop.Report) {
			reqs = append(reqs, req)
			return step(p, req)
		}),
	}
	f := testWorkflow(t, "composition:\n  sequence: [inc, {"+jobNode+"}]\n")
	res, ran, inv := controller(t, f, map[string]any{"n": 1}, comps)
	if got := mustJSON(t, res); !strings.Contains(got, `"n":5`) || inv != 3 {
		t.Errorf("result %s after %d invocations (ran %v), want the job's after two hand-overs", got, inv, ran)
	}
	if len(reqs) != 2 || reqs[0].Hop != 1 || reqs[0].Attempt != 1 || reqs[1].Hop != 2 {
		t.Errorf("step requests %+v, want hop 1 attempt 1 then hop 2: a refused step did not run", reqs)
	}
}

// TestWorkflowJobKeys: a job's key comes from the workflow's key, its
// place and the visit, so each visit of a loop is a job of its own and
// the same workflow key finds the same jobs; a job with a key expression
// of its own keeps it.
func TestWorkflowJobKeys(t *testing.T) {
	src := "idempotency_key: params.id\ncomposition:\n  repeat:\n    times: 2\n    do: {" + jobNode + "}\n"
	var keys []string
	comps := map[string]component{"/_/w-step-count": func(_ map[string]any, req hop.Request) (map[string]any, *hop.Report) {
		keys = append(keys, req.Key+" "+req.Job)
		return map[string]any{}, &hop.Report{Status: hop.Done}
	}}
	controller(t, testWorkflow(t, src), map[string]any{"id": "a"}, comps)
	first := keys
	if len(first) != 2 || first[0] == first[1] || !strings.HasPrefix(first[0], "a/composition.repeat.do#1 ") || !strings.HasPrefix(first[1], "a/composition.repeat.do#2 ") {
		t.Fatalf("keys %q, want one per visit under the workflow key", first)
	}
	keys = nil
	controller(t, testWorkflow(t, src), map[string]any{"id": "a"}, comps)
	if strings.Join(keys, ",") != strings.Join(first, ",") {
		t.Errorf("the same workflow key gave jobs %q, then %q", first, keys)
	}

	own := strings.Replace(jobNode, "chain: {", "chain: {idempotency_key: '\"mine-\" + string(params.x)', ", 1)
	keys = nil
	controller(t, testWorkflow(t, "composition: {"+own+"}\n"), map[string]any{"x": 7}, comps)
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "mine-7 ") {
		t.Errorf("keys %q, want the job's own", keys)
	}
}

// TestWorkflowReplayedStateIsRefused: a workflow's state waiting for an
// ordinary action is good for OpenWhisk's longest action and no more.
func TestWorkflowReplayedStateIsRefused(t *testing.T) {
	f := testWorkflow(t, "composition:\n  sequence: [inc, inc]\n")
	d := Decide(Env{Flow: f, Secret: testSecret, Now: t0, NewID: fixedKey}, map[string]any{"n": 1})
	state := roundTrip(t, d.Result["state"].(map[string]any))
	state["n"] = 2
	late := Decide(Env{Flow: f, Secret: testSecret, Now: t0.Add(policies.MaxTimeout + stateSlack + time.Second), NewID: fixedKey}, state)
	if e := errorOf(late); e == nil || !strings.Contains(e["message"].(string), "replayed") {
		t.Errorf("a late state was accepted: %v", late.Result)
	}
	inTime := Decide(Env{Flow: f, Secret: testSecret, Now: t0.Add(policies.MaxTimeout), NewID: fixedKey}, state)
	if inTime.Result["action"] != "inc" {
		t.Errorf("a state in time was refused: %v", inTime.Result)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
