package chain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/internal/blobtest"
	"github.com/wskx/wskx/internal/testbin"
	"github.com/wskx/wskx/local"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

// wskxBin is the wskx binary built for this test run: the built-in
// platform runs every action container as `wskx proxy`.
var wskxBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := testbin.Build(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wskxBin = bin
	// The storage chains need the blob servers; blobtest starts them for
	// this run (or finds them configured) and stops them afterwards.
	code := blobtest.Main(m)
	cleanup()
	os.Exit(code)
}

// dmtcpHome finds DMTCP the way the runner does, for deciding which
// engines this machine can test.
func dmtcpHome() (string, bool) {
	if h := os.Getenv("WSKX_DMTCP_HOME"); h != "" {
		_, err := os.Stat(filepath.Join(h, "bin", "dmtcp_launch"))
		return h, err == nil
	}
	p, err := exec.LookPath("dmtcp_launch")
	if err != nil {
		return "", false
	}
	return filepath.Dir(filepath.Dir(p)), true
}

func engines(t *testing.T) []string {
	out := []string{policies.EngineCooperative}
	if _, ok := dmtcpHome(); ok {
		out = append(out, policies.EngineDMTCP)
	} else {
		t.Log("DMTCP is not installed (not on PATH, no WSKX_DMTCP_HOME): testing the cooperative engine only")
	}
	return out
}

type env struct {
	dir string
	lp  *local.Platform
	api *whisk.Client
}

func startPlatform(t *testing.T, dir string) *env {
	t.Helper()
	return startPlatformWith(t, dir, nil, 0)
}

// startPlatformWith starts a platform whose containers get extra in their
// environment (DMTCP's home is added when found), with a composition
// length limit (0: OpenWhisk's 50); edits change its options further.
func startPlatformWith(t *testing.T, dir string, extra map[string]string, lengthLimit int, edits ...func(*local.Options)) *env {
	t.Helper()
	envs := map[string]string{}
	for k, v := range extra {
		envs[k] = v
	}
	if h, ok := dmtcpHome(); ok {
		envs["WSKX_DMTCP_HOME"] = h
	}
	opts := local.Options{
		DataDir: filepath.Join(dir, "platform"), Runtime: wskxBin, Env: envs, LengthLimit: lengthLimit,
	}
	for _, edit := range edits {
		edit(&opts)
	}
	lp, err := local.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	api, err := lp.Client()
	if err != nil {
		t.Fatal(err)
	}
	return &env{dir: dir, lp: lp, api: api}
}

// loadPolicy reads an example and scales it down for a test: a short time
// limit so that a few seconds of work need several hops, and storage and
// job folders of the test's own.
func loadPolicy(t *testing.T, file, engine, dir string) *policies.Policy {
	t.Helper()
	p, err := policies.Load(filepath.Join("../examples/compositions", file))
	if err != nil {
		t.Fatal(err)
	}
	ov := policies.Overrides{Engine: engine, Timeout: 4 * time.Second, Dir: filepath.Join(dir, "jobs"),
		StorageURL: "file://" + filepath.Join(dir, "store"),
		// A retry waits its backoff inside the step: it must fit the short limit.
		MaxRetryWait: time.Second}
	if p.Checkpoint.Deadline != nil {
		// Adaptive, as the docs advise: a loaded machine slows checkpoints.
		ov.Margin = `max(duration("1500ms"), last.checkpoint_time * 3)`
	}
	if p.Checkpoint.Interval != nil {
		ov.Interval = time.Second
	}
	p, err = p.With(ov, file)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// override applies o to p, as a command or an experiment would.
func override(t *testing.T, p *policies.Policy, o policies.Overrides) *policies.Policy {
	t.Helper()
	q, err := p.With(o, p.Source+" (with the test's overrides)")
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// straight runs the workload once, start to end, for the expected result.
func straight(t *testing.T, p *policies.Policy, params map[string]any) map[string]any {
	t.Helper()
	argv, err := p.Argv(policies.Env{Params: params})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "WSKX_STATE_DIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("straight run of %v: %v", argv, err)
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var res map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &res); err != nil {
		t.Fatalf("straight run's last line is not JSON: %q", lines[len(lines)-1])
	}
	return res
}

func runChain(t *testing.T, e *env, p *policies.Policy, params map[string]any) (*chain.Outcome, chain.Composition) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, comp := deployed(t, ctx, e, p)
	out, err := follow(ctx, e, comp, params, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out, comp
}

// jobResult is the job's own output: the result less the chain summary.
func jobResult(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	delete(m, hop.StateKey)
	return m
}

// derived returns every activation the invocations caused, oldest first.
func derived(t *testing.T, api *whisk.Client, invocations []string) (all []whisk.Activation) {
	t.Helper()
	recs, err := api.ListActivations(context.Background(), whisk.ActivationListOptions{Docs: true, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if !slices.Contains(invocations, r.Cause) {
			continue
		}
		all = append(all, r)
	}
	slices.SortFunc(all, byStart)
	return all
}

// byStart orders records by start, and records that start in the same
// millisecond by end: a conductor run that takes no measurable time ends
// as the component after it starts.
func byStart(a, b whisk.Activation) int {
	if a.Start != b.Start {
		return int(a.Start - b.Start)
	}
	return int(a.End - b.End)
}

// checkRecords checks what the records say of a chain: the activations of
// one job never overlap (so nothing is billed twice) and the conductor's
// own billed time is a small part of the total.
func checkRecords(t *testing.T, api *whisk.Client, comp chain.Composition, out *chain.Outcome) {
	t.Helper()
	all := derived(t, api, out.Invocations)
	if len(all) == 0 {
		t.Fatal("no derived activation records")
	}
	var total, cond int64
	for i, r := range all {
		total += r.Duration
		if r.Name == comp.Conductor {
			cond += r.Duration
		}
		if i > 0 && all[i-1].End > r.Start {
			t.Errorf("activations overlap: %s (%s, %d..%d) and %s (%s, %d..%d)",
				all[i-1].ActivationID, all[i-1].Name, all[i-1].Start, all[i-1].End, r.ActivationID, r.Name, r.Start, r.End)
		}
	}
	if share := float64(cond) / float64(total); share >= 0.05 {
		t.Errorf("the conductor's billed time is %.1f%% of the total (%d of %d ms), want under 5%%", 100*share, cond, total)
	} else {
		t.Logf("conductor billed %d ms of %d ms (%.2f%%) over %d activations", cond, total, 100*share, len(all))
	}
}

func TestChainExamples(t *testing.T) {
	// Each case is about 6-7 s of work on these machines, so that the
	// 4 s time limit (2.5 s of work a hop) needs three hops or more;
	// factorisation's fixed 4-5.5 s gets a 3 s limit (1.5 s a hop) for
	// the same reason.
	cases := []struct {
		file    string
		params  map[string]any
		timeout time.Duration
	}{
		{"deadline.yaml", map[string]any{"n": 34, "pause_ms": 200}, 0},
		{"interval.yaml", nil, 3 * time.Second},
		{"cooperative.yaml", map[string]any{"size": 2700}, 0},
	}
	for _, engine := range engines(t) {
		for _, c := range cases {
			t.Run(engine+"/"+c.file, func(t *testing.T) {
				dir := t.TempDir()
				e := startPlatform(t, dir)
				defer e.lp.Close()
				p := loadPolicy(t, c.file, engine, dir)
				if c.timeout != 0 {
					var err error
					if p, err = p.With(policies.Overrides{Timeout: c.timeout}, c.file); err != nil {
						t.Fatal(err)
					}
				}
				want := straight(t, p, c.params)
				out, comp := runChain(t, e, p, c.params)
				if !out.Success {
					t.Fatalf("chain failed: %s %s", out.Status, out.Result)
				}
				if got := jobResult(t, out.Result); !reflect.DeepEqual(got, want) {
					t.Errorf("result %v, want %v (the straight run's)", got, want)
				}
				if out.Summary == nil || out.Summary.Hops < 3 {
					t.Errorf("summary %+v: want at least three hops", out.Summary)
				}
				if out.Summary != nil && out.Summary.Engine != engine {
					t.Errorf("engine %q ran, want %q", out.Summary.Engine, engine)
				}
				checkRecords(t, e.api, comp, out)
			})
		}
	}
}
