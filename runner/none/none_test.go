package none_test

import (
	"context"
	"errors"
	"path/filepath"
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
