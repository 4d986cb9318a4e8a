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
				if _, err := d.policy(r); err != nil {
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
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	lp, err := local.Start(ctx, local.Options{DataDir: filepath.Join(dir, "platform"), Runtime: wskxBin})
	if err != nil {
		t.Fatal(err)
	}
	defer lp.Close()
	api, err := lp.Client()
	if err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile("testdata/e2e/experiment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	out := filepath.Join(dir, "out")
	results, err := Execute(ctx, f, &OpenWhisk{API: api, Namespace: api.Namespace(), Dir: dir}, &progress,
		func(r []Result) error { return WriteResults(out, r) })
	if err != nil {
		t.Fatal(err)
	}
	t.Log(progress.String())
	var sum strings.Builder
	if err := WriteSummary(&sum, results); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + sum.String())
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
