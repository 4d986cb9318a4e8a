package none_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wskx/wskx/examples/workloads/enginetest"
	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/none"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRunsOnce(t *testing.T) {
	e, err := none.New(none.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for _, c := range []struct {
		name   string
		script string
		code   int
		out    string
	}{
		{"ok", `pwd; echo "$EXTRA"`, 0, ""},
		{"status", `exit 7`, 7, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "job")
			dirs, err := enginetest.Fresh(root)
			if err != nil {
				t.Fatal(err)
			}
			out := &enginetest.Buffer{}
			p, err := e.Start(ctx, runner.JobSpec{Argv: []string{"sh", "-c", c.script}, Env: map[string]string{"EXTRA": "x"}, Stdout: out}, dirs, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Checkpoint(ctx, true); !errors.Is(err, runner.ErrNotSupported) {
				t.Errorf("checkpoint: err = %v, want ErrNotSupported", err)
			}
			<-p.Done()
			if ex := p.Exit(); ex.Code != c.code || ex.Checkpointed {
				t.Errorf("exit %+v, want code %d", ex, c.code)
			}
			if c.code == 0 && out.String() != dirs.Work+"\nx\n" {
				t.Errorf("output %q", out.String())
			}
		})
	}
	if _, err := e.Start(ctx, runner.JobSpec{Argv: []string{"true"}}, enginetest.Dirs(t.TempDir()), true); !errors.Is(err, runner.ErrNotSupported) {
		t.Errorf("restore: err = %v, want ErrNotSupported", err)
	}
}

func TestKillEndsTheGroup(t *testing.T) {
	e, err := none.New(none.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	dirs, err := enginetest.Fresh(filepath.Join(t.TempDir(), "job"))
	if err != nil {
		t.Fatal(err)
	}
	// The background child keeps the output pipe open: only killing the
	// whole group ends it promptly.
	out := &enginetest.Buffer{}
	p, err := e.Start(ctx, runner.JobSpec{Argv: []string{"sh", "-c", "sleep 60 & sleep 60; echo late"}, Stdout: out}, dirs, false)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	p.Kill()
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("the job did not end after Kill")
	}
	if ex := p.Exit(); ex.Signal == "" || ex.Code != -1 {
		t.Fatalf("exit %+v, want killed by a signal", ex)
	}
	if out.String() != "" {
		t.Fatalf("output %q", out.String())
	}
}

// The job's environment is exactly the spec's, with a default PATH: none
// of the runner's own variables (the container's credentials) reach it.
func TestJobEnvIsTheSpecs(t *testing.T) {
	t.Setenv("WSKX_TEST_SECRET", "s3cr3t-none-engine")
	e, err := none.New(none.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for _, c := range []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{"no PATH", map[string]string{"EXTRA": "x"}, map[string]string{"EXTRA": "x", "PATH": none.DefaultPath}},
		{"own PATH", map[string]string{"PATH": "/usr/bin:/bin", "A": "1"}, map[string]string{"PATH": "/usr/bin:/bin", "A": "1"}},
		{"nil", nil, map[string]string{"PATH": none.DefaultPath}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dirs, err := enginetest.Fresh(filepath.Join(t.TempDir(), "job"))
			if err != nil {
				t.Fatal(err)
			}
			out := &enginetest.Buffer{}
			p, err := e.Start(ctx, runner.JobSpec{Argv: []string{"/usr/bin/env"}, Env: c.env, Stdout: out}, dirs, false)
			if err != nil {
				t.Fatal(err)
			}
			<-p.Done()
			if err := enginetest.CheckEnv(out.String(), "s3cr3t-none-engine", c.want); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(strings.TrimSpace(out.String()), "\n") + 1; n != len(c.want) {
				t.Errorf("the job has %d variables, want exactly %d:\n%s", n, len(c.want), out)
			}
		})
	}
}

// A killed step container takes its job with it.
func TestJobDiesWithTheRunner(t *testing.T) {
	e, err := none.New(none.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := enginetest.JobDiesWithRunner(ctx, e, "TestJobDiesWithTheRunner", t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// The parent-death signal follows the thread that forked, and Go ends a
// thread whenever a goroutine locked to it returns: such goroutines, run
// after the start, must not kill the job.
func TestJobSurvivesThreadExits(t *testing.T) {
	ctx := testCtx(t)
	for _, noASLR := range []bool{false, true} {
		dirs, err := enginetest.Fresh(filepath.Join(t.TempDir(), "job"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := none.Launch(ctx, none.Cmd{Argv: []string{"sleep", "1"}, Dir: dirs.Work, NoASLR: noASLR})
		if err != nil {
			t.Fatal(err)
		}
		// One after the other, each on whichever thread the scheduler
		// picks next: sooner or later the one that forked, were it pooled.
		for range 200 {
			var wg sync.WaitGroup
			for range runtime.GOMAXPROCS(0) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runtime.LockOSThread() // never unlocked: the thread ends
				}()
			}
			wg.Wait()
		}
		<-p.Done()
		if ex := p.Exit(); ex.Code != 0 || ex.Signal != "" {
			t.Fatalf("noASLR=%v: the job ended with %+v when threads ended", noASLR, ex)
		}
	}
}
