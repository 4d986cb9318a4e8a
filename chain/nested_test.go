package chain_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

// incs is a workflow of n inc actions, which add one to value, under a
// length limit of 4.
func incs(t *testing.T, name string, n int) *policies.Workflow {
	t.Helper()
	src := "name: " + name + "\nlength_limit: 4\nactions: {inc: ../../chain/testdata/crosscheck/actions/inc.js}\ncomposition:\n  sequence:\n"
	for range n {
		src += "    - inc\n"
	}
	w, err := policies.LoadWorkflow(writeWorkflow(t, name, src))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// outerConductor is a plain OpenWhisk conductor action that runs one
// component, the wskx workflow, and ends with its result.
const outerConductor = `function main(params) {
  const step = params.$step || 0
  delete params.$step
  if (step === 0) return { action: 'wx-nested', params, state: { $step: 1 } }
  return { params }
}`

// TestWorkflowNested: a wskx workflow used as a component of a plain
// OpenWhisk sequence, and of another conductor, gives its result; when
// the outer conductor's count reaches the platform's limit first, the
// workflow goes on in an invocation of its own and the outer one gets the
// hand-over pointer, which leads to the result.
func TestWorkflowNested(t *testing.T) {
	needNode(t)
	dir := t.TempDir()
	e := startPlatformWith(t, dir, nil, 4)
	defer e.lp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := func(code string) *whisk.Action {
		return &whisk.Action{Exec: &whisk.Exec{Kind: "nodejs:20", Code: code}}
	}

	// In a sequence, a conductor has a limit of its own: 3 incs fit under 4.
	w := incs(t, "wx-nested", 3)
	if _, comp := runWorkflow(t, ctx, e, w, map[string]any{"value": 0}); comp.Conductor == "" {
		t.Fatal("not deployed")
	}
	seq := &whisk.Action{Exec: &whisk.Exec{Kind: "sequence", Components: []string{"/_/wx-nested", "/_/inc"}}}
	if _, err := e.api.PutAction(ctx, "seq-nested", seq, true); err != nil {
		t.Fatal(err)
	}
	inv, err := e.api.Invoke(ctx, "seq-nested", map[string]any{"value": 1}, whisk.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		t.Fatal(err)
	}
	if v := valueOf(t, inv.Result); v != 5 {
		t.Errorf("sequence result %s, want value 5", inv.Result)
	}

	// In another conductor, the components count together: 6 incs pass the
	// limit of 4 that the outer conductor's count shares.
	w = incs(t, "wx-nested", 6)
	runWorkflow(t, ctx, e, w, map[string]any{"value": 0})
	outer := node(outerConductor)
	outer.Annotations = whisk.KeyValues{{Key: "conductor", Value: true}}
	if _, err := e.api.PutAction(ctx, "outer-nested", outer, true); err != nil {
		t.Fatal(err)
	}
	inv, err = e.api.Invoke(ctx, "outer-nested", map[string]any{"value": 10}, whisk.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := hop.SummaryOfResult(inv.Result)
	if !ok || s.Continued == "" {
		t.Fatalf("outer result %s, want the workflow's hand-over pointer", inv.Result)
	}
	final := awaitResult(t, ctx, e.api, s.Continued)
	if v := valueOf(t, final); v != 16 {
		t.Errorf("result at the end of the pointers %s, want value 16", final)
	}
}

// awaitResult follows hand-over pointers from activation id to the
// workflow's result.
func awaitResult(t *testing.T, ctx context.Context, api *whisk.Client, id string) json.RawMessage {
	t.Helper()
	for {
		rec, err := api.GetActivation(ctx, id)
		switch {
		case err == nil:
			s, ok := hop.SummaryOfResult(rec.Response.Result)
			if !ok || s.Continued == "" {
				return rec.Response.Result
			}
			id = s.Continued
			continue
		case !whisk.IsNotFound(err):
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no result for %s: %v", id, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func valueOf(t *testing.T, raw json.RawMessage) float64 {
	t.Helper()
	var m struct {
		Value float64 `json:"value"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	return m.Value
}
