package chain_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wskx/wskx/policies"
)

// fanOut is a workflow whose parallel runs three actions and a long job
// side by side, joined as join says; its storage is the test's.
func fanOut(t *testing.T, dir, join string) *policies.Workflow {
	t.Helper()
	src := fmt.Sprintf(`
name: fan-%s
join: %s
storage: {url: "file://%s/store"}
actions: {inc: ../../chain/testdata/crosscheck/actions/inc.js}
composition:
  sequence:
    - parallel:
        - inc
        - inc
        - sequence: [inc, inc]
        - sequence:
            - function: '{"n": 12, "pause_ms": 500}'
            - job:
                name: count
                job:
                  command: [../workloads/bin/count, "${params.n}", "${params.pause_ms}"]
                  timeout: 4s
                checkpoint:
                  deadline: {margin: 1500ms}
    - function: '{"values": map(params.value, .value ?? .sum)}'
`, join, join, dir)
	return loadWorkflow(t, writeWorkflow(t, "fan", src), policies.EngineCooperative, dir, policies.Overrides{})
}

// TestWorkflowFanOut: four branches, one a long job of several hops, join
// once and in order, with either join.
func TestWorkflowFanOut(t *testing.T) {
	needNode(t)
	for _, join := range []string{policies.JoinWait, policies.JoinHandoff} {
		t.Run(join, func(t *testing.T) {
			dir := t.TempDir()
			e := startPlatform(t, dir)
			defer e.lp.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, _ := runWorkflow(t, ctx, e, fanOut(t, dir, join), map[string]any{"value": 1})
			if !out.Success {
				t.Fatalf("workflow failed: %s", out.Result)
			}
			got := jobResult(t, out.Result)
			want := []any{2.0, 2.0, 3.0, 78.0}
			if fmt.Sprint(got["values"]) != fmt.Sprint(want) {
				t.Errorf("values %v, want %v", got["values"], want)
			}
			s := summaryOf(t, out)
			t.Logf("%s: %d invocations followed, waited %d ms", join, len(out.Invocations), s.WaitMS)
			if join == policies.JoinHandoff && s.WaitMS != 0 {
				t.Errorf("a handoff join waited %d ms", s.WaitMS)
			}
			if join == policies.JoinWait && s.WaitMS == 0 {
				t.Errorf("a waiting join reports no wait")
			}
		})
	}
}
