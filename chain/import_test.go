package chain_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wskx/wskx/internal/npmtest"
	"github.com/wskx/wskx/local"
	"github.com/wskx/wskx/policies"
)

// TestImportedCompositionWithJob: an openwhisk-composer composition, as
// its compose command compiles it, with JavaScript functions around an
// action that a workflow file runs as a long job of three hops or more,
// all in one wskx conductor.
func TestImportedCompositionWithJob(t *testing.T) {
	tools, err := npmtest.Find()
	if err != nil {
		t.Skipf("an imported composition needs node and openwhisk-composer: %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "report.js")
	composition := `const composer = require('openwhisk-composer')
module.exports = composer.sequence(
  p => ({ n: p.n * 2, pause_ms: 500 }),
  'count',
  ({ count, sum }) => ({ report: 'counted to ' + count, sum }))
`
	if err := os.WriteFile(src, []byte(composition), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	runNode(t, ctx, tools, dir, tools.Compose(), src, "-o", filepath.Join(dir, "report.json"))
	file := writeWorkflow(t, "imported", `
name: imported
composition:
  composer: `+filepath.Join(dir, "report.json")+`
  jobs:
    count:
      name: count
      job:
        command: [../workloads/bin/count, "${params.n}", "${params.pause_ms}"]
        timeout: 4s
      checkpoint:
        deadline: {margin: 1500ms}
`)
	w := loadWorkflow(t, file, policies.EngineCooperative, dir, policies.Overrides{})
	e := startPlatformWith(t, dir, nil, 0, func(o *local.Options) { o.NodePath = tools.NodePath })
	defer e.lp.Close()
	out, _ := runWorkflow(t, ctx, e, w, map[string]any{"n": 8})
	if !out.Success {
		t.Fatalf("workflow failed: %s", out.Result)
	}
	got := jobResult(t, out.Result)
	if got["report"] != "counted to 16" || got["sum"] != 136.0 {
		t.Errorf("result %v, want the report of counting to 16 (sum 136)", got)
	}
	if s := summaryOf(t, out); len(s.Jobs) != 1 || s.Jobs[0].Hops < 3 {
		t.Errorf("jobs %+v, want one job of three hops or more", s.Jobs)
	}
}
