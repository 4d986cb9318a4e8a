package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/internal/npmtest"
	"github.com/wskx/wskx/internal/redistest"
	"github.com/wskx/wskx/internal/testbin"
	"github.com/wskx/wskx/local"
)

// wskxBin is the wskx binary the built-in platform runs actions with.
var wskxBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := testbin.Build(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wskxBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func TestExamplesLoad(t *testing.T) {
	files, _ := filepath.Glob("../examples/experiments/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example experiments")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			d := &OpenWhisk{Dir: t.TempDir()}
			for _, r := range f.Runs() {
				var err error
				if r.Ref.Workflow {
					_, err = d.workflow(r)
				} else {
					_, err = d.policy(r)
				}
				if err != nil {
					t.Errorf("%s/%s: %v", r.Workload, r.Policy, err)
				}
			}
		})
	}
}

// TestExecuteLocal runs a small experiment end to end on the built-in
// platform: a chain, the single baseline and the self-invoke baseline.
func TestExecuteLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end experiment skipped in -short mode")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	results := executeLocal(t, dir, "testdata/e2e/experiment.yaml", "", nil, func(r []Result) error { return WriteResults(out, r) })
	if len(results) != 3 {
		t.Fatalf("%d results, want 3", len(results))
	}
	byPolicy := map[string]Result{}
	for _, r := range results {
		if r.Error != "" || !r.Success {
			t.Errorf("%s: error %q, status %q, output %s", r.Policy, r.Error, r.Status, r.Output)
		}
		byPolicy[r.Policy] = r
	}
	chain, single := byPolicy["cooperative"], byPolicy["single"]
	var want map[string]any
	if err := json.Unmarshal(single.Output, &want); err != nil || want["count"] != 15.0 {
		t.Errorf("single baseline output %s, want count 15", single.Output)
	}
	if !sameJSON(chain.Output, single.Output) {
		t.Errorf("chain output %s, single %s", chain.Output, single.Output)
	}
	if chain.Metrics.Hops < 2 || chain.Metrics.ConductorMS == 0 || chain.Metrics.Billed <= chain.Metrics.Hops {
		t.Errorf("chain metrics %+v: want at least 2 hops and billed conductor runs", chain.Metrics)
	}
	if chain.Metrics.DoubleBilledMS != 0 || chain.Metrics.Duplicates != 0 {
		t.Errorf("chain double-billed %d ms, %d duplicates", chain.Metrics.DoubleBilledMS, chain.Metrics.Duplicates)
	}
	if single.Metrics.Hops != 1 || single.Metrics.Billed != 1 {
		t.Errorf("single metrics %+v", single.Metrics)
	}
	if si := byPolicy["self-invoke"]; si.Metrics.Hops < 2 || si.Metrics.Finals < 1 {
		t.Errorf("self-invoke metrics %+v", si.Metrics)
	}
	if _, err := ReadResults(filepath.Join(out, "results.json")); err != nil {
		t.Error(err)
	}
}

// TestExecuteFanOut runs the fan-out experiment's composition three ways
// on the built-in platform: joined by a waiting wskx conductor, by a wskx
// hand-over, and by openwhisk-composer's own conductor through a real
// Redis. Only the hand-over is not billed while the branches work, and
// only it answers a blocking call with a pointer instead of the result.
func TestExecuteFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end experiment skipped in -short mode")
	}
	tools, err := npmtest.Find()
	if err != nil {
		t.Skipf("the composer baseline needs node, openwhisk-composer and the openwhisk client: %v", err)
	}
	redis := redistest.Start(t)
	results := executeLocal(t, t.TempDir(), "testdata/e2e/fanout.yaml", tools.NodePath, func(lp *local.Platform, d *OpenWhisk) {
		d.Composer = &ComposerBaseline{Node: tools.Node, Deploy: tools.Deploy(), APIHost: lp.APIHost, Key: lp.User.Key, RedisURL: redis}
	}, nil)
	by := map[string]Result{}
	for _, r := range results {
		if r.Error != "" || !r.Success {
			t.Errorf("%s: error %q, status %q, output %s", r.Policy, r.Error, r.Status, r.Output)
		}
		by[r.Policy] = r
	}
	want := json.RawMessage(`{"branches":[0,1],"worked_ms":2000}`)
	for _, p := range []string{"wait", "handoff", "composer"} {
		r := by[p]
		if !sameJSON(r.Output, want) {
			t.Errorf("%s: output %s, want %s", p, r.Output, want)
		}
		// Two branches ran the work action, whatever joined them.
		if r.Metrics.Hops != 2 || r.Invocations < 3 {
			t.Errorf("%s: %d component runs over %d invocations, want 2 over at least 3", p, r.Metrics.Hops, r.Invocations)
		}
	}
	for _, p := range []string{"wait", "composer"} {
		// The parent was billed while the branches' second of work ran.
		if m := by[p].Metrics; m.WaitingMS < 900 || m.DoubleBilledMS < 900 {
			t.Errorf("%s: waiting %d ms, double-billed %d ms; want about the branches' 1000 ms", p, m.WaitingMS, m.DoubleBilledMS)
		}
		if !by[p].Direct {
			t.Errorf("%s: the blocking invoke did not answer with the result", p)
		}
	}
	if m := by["handoff"].Metrics; m.WaitingMS != 0 || m.DoubleBilledMS != 0 {
		t.Errorf("handoff: waiting %d ms, double-billed %d ms; want none", m.WaitingMS, m.DoubleBilledMS)
	}
	if h := by["handoff"]; !h.Blocking || h.Direct || h.Invocations < 4 {
		t.Errorf("handoff: blocking %v, direct %v, %d invocations; want a pointer answered and a continuation", h.Blocking, h.Direct, h.Invocations)
	}
}

// executeLocal runs an experiment file on a built-in platform of its own
// with its data under dir, and logs the progress and the summary. with,
// when set, completes the driver; save is Execute's.
func executeLocal(t *testing.T, dir, file, nodePath string, with func(*local.Platform, *OpenWhisk), save func([]Result) error) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lp, err := local.Start(ctx, local.Options{DataDir: filepath.Join(dir, "platform"), Runtime: wskxBin, NodePath: nodePath})
	if err != nil {
		t.Fatal(err)
	}
	defer lp.Close()
	api, err := lp.Client()
	if err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d := &OpenWhisk{API: api, Namespace: api.Namespace(), Dir: dir}
	if with != nil {
		with(lp, d)
	}
	var progress strings.Builder
	results, err := Execute(ctx, f, d, &progress, save)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(progress.String())
	var sum strings.Builder
	if err := WriteSummary(&sum, results); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + sum.String())
	return results
}
