package chain_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/whisk"
)

// allDerivedOrTop lists every activation record of the platform.
func allDerivedOrTop(t *testing.T, e *env) []whisk.Activation {
	t.Helper()
	var all []whisk.Activation
	for skip := 0; ; skip += 200 {
		recs, err := e.api.ListActivations(context.Background(), whisk.ActivationListOptions{Docs: true, Limit: 200, Skip: skip})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
		if len(recs) < 200 {
			return all
		}
	}
}

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
// once and in order, with either join, and when the job's second hop
// crashes mid-run (the job retries it inside its branch).
func TestWorkflowFanOut(t *testing.T) {
	needNode(t)
	for _, tc := range []struct {
		join, fault string
	}{{policies.JoinWait, ""}, {policies.JoinHandoff, ""}, {policies.JoinHandoff, runner.FaultWork + "@2"}} {
		join := tc.join
		name := join
		if tc.fault != "" {
			name += "/crash-" + tc.fault
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var extra map[string]string
			if tc.fault != "" {
				extra = map[string]string{runner.FaultEnv: tc.fault}
			}
			e := startPlatformWith(t, dir, extra, 0)
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
			crashed, went := 0, 0
			for _, r := range allDerivedOrTop(t, e) {
				if r.Response.Status == whisk.StatusDeveloperError {
					crashed++
				}
				if bs, ok := hop.SummaryOfResult(r.Response.Result); ok && bs.Join != "" && bs.Continued != "" {
					went++
				}
			}
			if tc.fault != "" && crashed == 0 {
				t.Errorf("no activation crashed: the fault did not fire")
			}
			if join == policies.JoinHandoff && went != 1 {
				t.Errorf("%d branches went on with the workflow, want exactly one", went)
			}
			if join == policies.JoinHandoff && s.WaitMS != 0 {
				t.Errorf("a handoff join waited %d ms", s.WaitMS)
			}
			if join == policies.JoinWait && s.WaitMS == 0 {
				t.Errorf("a waiting join reports no wait")
			}
		})
	}
}
