package cooperative_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/examples/workloads"
	"github.com/wskx/wskx/examples/workloads/enginetest"
	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/cooperative"
	"github.com/wskx/wskx/runner/none"
)

var bins map[string]string

func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv(enginetest.HelperEnv); ok {
		os.Exit(m.Run()) // a helper's shell job needs no workloads
	}
	dir, err := os.MkdirTemp("", "wskx-workloads-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	bins, err = workloads.Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newEngine(t testing.TB) *cooperative.Engine {
	e, err := cooperative.New(cooperative.Options{SaveTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestChainMatchesStraightRun(t *testing.T) {
	e := newEngine(t)
	for _, j := range []struct {
		name string
		argv []string
	}{
		// Progress every 20 ms: a line printed after an image would show twice.
		{"count", []string{bins["count"], "600", "2"}},
		{"factors", []string{bins["factors"], "3000000000000000037"}},
		{"matrix", []string{bins["matrix"], "1400", "7"}},
		{"memhog", []string{bins["memhog"], "8", "30", "50"}},
	} {
		t.Run(j.name, func(t *testing.T) {
			ctx := testCtx(t)
			straight, err := enginetest.Straight(ctx, j.argv)
			if err != nil {
				t.Fatal(err)
			}
			out, sizes, err := enginetest.Chain(ctx, e, filepath.Join(t.TempDir(), "job"), j.argv, 3, 250*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := enginetest.LastLine(out), enginetest.LastLine(straight); got != want {
				t.Fatalf("after %d checkpoints: %s, straight run: %s", len(sizes), got, want)
			}
			// A stopping checkpoint lets the job print nothing after its
			// image: no progress line is repeated or lost across hops.
			if got, want := enginetest.Lines(out, "counted"), enginetest.Lines(straight, "counted"); !slices.Equal(got, want) {
				t.Fatalf("progress across hops %q, straight run %q", got, want)
			}
		})
	}
}

func TestIntervalCheckpoint(t *testing.T) {
	e := newEngine(t)
	ctx := testCtx(t)
	argv := []string{bins["count"], "40", "50"}
	straight, err := enginetest.Straight(ctx, argv)
	if err != nil {
		t.Fatal(err)
	}
	want := enginetest.LastLine(straight)
	root := filepath.Join(t.TempDir(), "job")
	h, err := enginetest.Start(ctx, e, root, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var snap enginetest.Snapshot
	for i := range 3 {
		time.Sleep(200 * time.Millisecond)
		img, err := h.Proc.Checkpoint(ctx, false)
		if err != nil {
			t.Fatalf("interval checkpoint %d: %v", i, err)
		}
		if snap, err = enginetest.Copy(root, img); err != nil {
			t.Fatal(err)
		}
		if _, ok := snap["state/count.state"]; !ok {
			t.Fatalf("interval image %v has no state file", img.Files)
		}
		select {
		case <-h.Proc.Done():
			t.Fatalf("the job ended after interval checkpoint %d: %+v", i, h.Proc.Exit())
		default:
		}
	}
	h.Proc.Kill()
	if ex, _ := h.Wait(ctx); ex.Checkpointed {
		t.Fatalf("a killed job reports Checkpointed: %+v", ex)
	}
	h, err = enginetest.Start(ctx, e, root, argv, snap)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := h.Wait(ctx)
	if err != nil || ex.Code != 0 {
		t.Fatalf("restored job: %+v, %v; stderr: %s", ex, err, h.Stderr)
	}
	if got := enginetest.LastLine(h.Stdout.String()); got != want {
		t.Fatalf("from an interval image: %s, straight run: %s", got, want)
	}
}

func TestExitDuringCheckpoint(t *testing.T) {
	e := newEngine(t)
	for _, c := range []struct {
		name string
		argv []string
		wait bool // let the job end before asking
		stop bool
	}{
		{"finished/stop", []string{bins["count"], "3", "1"}, true, true},
		{"finished/interval", []string{bins["count"], "3", "1"}, true, false},
		// A job that ends on SIGTERM without saving: its exit wins.
		{"ends on SIGTERM", []string{"sh", "-c", `trap 'exit 3' TERM; while :; do sleep 0.05; done`}, false, true},
		// A job that ends on SIGUSR1 without saving.
		{"ends on SIGUSR1", []string{"sh", "-c", `trap 'exit 0' USR1; while :; do sleep 0.05; done`}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := testCtx(t)
			h, err := enginetest.Start(ctx, e, filepath.Join(t.TempDir(), "job"), c.argv, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.wait {
				if _, err := h.Wait(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				time.Sleep(200 * time.Millisecond) // let the shell set its trap
			}
			if _, err := h.Proc.Checkpoint(ctx, c.stop); !errors.Is(err, runner.ErrExited) {
				t.Fatalf("err = %v, want ErrExited", err)
			}
			if ex := h.Proc.Exit(); ex.Checkpointed {
				t.Fatalf("exit %+v reports Checkpointed", ex)
			}
		})
	}
}

func TestSaveTimeout(t *testing.T) {
	e, err := cooperative.New(cooperative.Options{SaveTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	// Ignores both requests.
	h, err := enginetest.Start(ctx, e, filepath.Join(t.TempDir(), "job"), []string{"sh", "-c", `trap '' USR1 TERM; while :; do sleep 0.05; done`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := h.Proc.Checkpoint(ctx, false); err == nil || errors.Is(err, runner.ErrExited) {
		t.Fatalf("interval: err = %v, want a timeout", err)
	}
	if _, err := h.Proc.Checkpoint(ctx, true); err == nil || errors.Is(err, runner.ErrExited) {
		t.Fatalf("stop: err = %v, want a timeout", err)
	}
	if ex, err := h.Wait(ctx); err != nil || ex.Signal == "" {
		t.Fatalf("after a stop timeout the job should be killed: %+v, %v", ex, err)
	}
}

func TestRestoreEnvironment(t *testing.T) {
	e := newEngine(t)
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "job")
	script := `echo "$WSKX_STATE_DIR ${WSKX_RESTORED:-0}"; test -e "$WSKX_STATE_DIR/.saved" && echo stale`
	for _, restore := range []bool{false, true} {
		var snap enginetest.Snapshot
		want := filepath.Join(root, "state") + " 0"
		if restore {
			snap = enginetest.Snapshot{"state/.saved": []byte("7\n")}
			want = filepath.Join(root, "state") + " 1"
		}
		h, err := enginetest.Start(ctx, e, root, []string{"sh", "-c", script}, snap)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := h.Stdout.String(); got != want+"\n" {
			t.Errorf("restore=%v: job saw %q, want %q", restore, got, want)
		}
	}
}

// A checkpoint asked for around the moment the job ends has one of two
// outcomes, never a mix: an image that restores to the right result, or
// ErrExited with the job's own, complete output.
func TestCheckpointRacingTheExit(t *testing.T) {
	e := newEngine(t)
	argv := []string{bins["count"], "5", "60"} // about 300 ms
	if err := enginetest.RaceTheExit(testCtx(t), e, t.TempDir(), argv, t.Logf); err != nil {
		t.Fatal(err)
	}
}

// The job's environment is exactly the spec's, the engine's own two
// variables and a default PATH: none of the runner's (the container's
// credentials) reach it.
func TestJobEnvIsTheSpecs(t *testing.T) {
	t.Setenv("WSKX_TEST_SECRET", "s3cr3t-cooperative-engine")
	e := newEngine(t)
	ctx := testCtx(t)
	for _, restore := range []bool{false, true} {
		dirs, err := enginetest.Fresh(filepath.Join(t.TempDir(), "job"))
		if err != nil {
			t.Fatal(err)
		}
		out := &enginetest.Buffer{}
		spec := runner.JobSpec{Argv: []string{"/usr/bin/env"}, Env: map[string]string{"EXTRA": "x", cooperative.EnvRestored: "stale"}, Stdout: out}
		p, err := e.Start(ctx, spec, dirs, restore)
		if err != nil {
			t.Fatal(err)
		}
		<-p.Done()
		want := map[string]string{"EXTRA": "x", cooperative.EnvStateDir: dirs.State, "PATH": none.DefaultPath}
		if restore {
			want[cooperative.EnvRestored] = "1"
		}
		if err := enginetest.CheckEnv(out.String(), "s3cr3t-cooperative-engine", want); err != nil {
			t.Fatalf("restore=%v: %v", restore, err)
		}
		if n := strings.Count(strings.TrimSpace(out.String()), "\n") + 1; n != len(want) {
			t.Errorf("restore=%v: the job has %d variables, want exactly %d:\n%s", restore, n, len(want), out)
		}
	}
}

// A killed step container takes its job with it.
func TestJobDiesWithTheRunner(t *testing.T) {
	e := newEngine(t)
	ctx := testCtx(t)
	if err := enginetest.JobDiesWithRunner(ctx, e, "TestJobDiesWithTheRunner", t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

func TestBehindToken(t *testing.T) {
	tests := []struct {
		token string
		want  time.Duration
	}{
		{"3\n", 0},
		{"3\nbehind_ms 206\n", 206 * time.Millisecond},
		{"behind_ms 7", 7 * time.Millisecond},
		{"3\nbehind_ms -5\n", 0},
		{"3\nbehind_ms soon\n", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := cooperative.Behind([]byte(tt.token)); got != tt.want {
			t.Errorf("Behind(%q) = %v, want %v", tt.token, got, tt.want)
		}
	}
}

// TestImageBehind: count drops the pause it is interrupted in and does it
// again after resuming, so its stopping image says how much it left
// behind: some of a pause, never more than one (with room for a loaded
// machine). factors saves between units of work and leaves nothing.
func TestImageBehind(t *testing.T) {
	e := newEngine(t)
	const pause = 300 * time.Millisecond
	for _, j := range []struct {
		name     string
		argv     []string
		lostWork bool
	}{
		{"count", []string{bins["count"], "100", "300"}, true},
		{"factors", []string{bins["factors"], "3000000000000000037"}, false},
	} {
		t.Run(j.name, func(t *testing.T) {
			ctx := testCtx(t)
			h, err := enginetest.Start(ctx, e, filepath.Join(t.TempDir(), "job"), j.argv, nil)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(pause + pause/2)
			img, err := h.Proc.Checkpoint(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case j.lostWork && (img.Behind <= 0 || img.Behind > pause+time.Second):
				t.Errorf("count left %v behind, want some of one %v pause", img.Behind, pause)
			case !j.lostWork && img.Behind != 0:
				t.Errorf("factors left %v behind, want nothing", img.Behind)
			}
		})
	}
}
