// Package cooperative is the engine for jobs that save their own state.
//
// The protocol between the engine and the job:
//
//   - The job gets WSKX_STATE_DIR, the folder its state goes in (shipped
//     with every checkpoint together with its working directory). On a
//     restored hop it also gets WSKX_RESTORED=1 and must resume from what it
//     saved there.
//   - Deadline checkpoint: the engine sends SIGTERM to the job's process.
//     The job writes its state under WSKX_STATE_DIR and exits with status
//     ExitCheckpointed (85). Any other exit means the job ended on its own
//     (its exit wins, runner.ErrExited).
//   - Interval checkpoint: the engine sends SIGUSR1. The job writes its
//     state and keeps running. When the state is whole it replaces
//     WSKX_STATE_DIR/.saved (SavedFile) with a token that differs from the
//     one before, for example a count of its saves written to a temporary
//     file renamed over .saved. The engine removes .saved before it starts
//     the job and waits for the token to change after each SIGUSR1.
//   - The state files should be replaced atomically (write a temporary
//     file, rename it), so that a copy taken while the job runs on is
//     always whole.
//   - A job whose save leaves out work in progress (a step it was
//     interrupted in, which it does again after resuming) may add a line
//     "behind_ms N" to .saved: the saved state was current N ms before the
//     save. The engine reports it as the image's Behind, the hop's lost
//     work.
//
// The example workloads (examples/workloads/src/wskx.h) implement it in C.
package cooperative

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/none"
)

// The protocol's constants.
const (
	// ExitCheckpointed is the status a job exits with after saving its
	// state on SIGTERM.
	ExitCheckpointed = 85
	// EnvStateDir names the state folder in the job's environment.
	EnvStateDir = "WSKX_STATE_DIR"
	// EnvRestored is "1" on a hop that continues from saved state.
	EnvRestored = "WSKX_RESTORED"
	// SavedFile, in the state folder, holds a token that changes with
	// every completed save.
	SavedFile = ".saved"
	// Version is the protocol's version, recorded in manifests.
	Version = "1"
)

// DefaultSaveTimeout bounds how long a job may take to save its state.
const DefaultSaveTimeout = 2 * time.Minute

// Options configure the engine.
type Options struct {
	Logger      *slog.Logger  // nil: slog.Default()
	SaveTimeout time.Duration // 0: DefaultSaveTimeout
}

// Engine runs jobs that checkpoint themselves.
type Engine struct {
	log     *slog.Logger
	timeout time.Duration
}

var _ runner.Engine = (*Engine)(nil)

// New returns the cooperative engine.
func New(o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SaveTimeout <= 0 {
		o.SaveTimeout = DefaultSaveTimeout
	}
	return &Engine{log: o.Logger, timeout: o.SaveTimeout}, nil
}

// Name is "cooperative".
func (e *Engine) Name() string { return "cooperative" }

// Version returns the protocol's version.
func (e *Engine) Version(ctx context.Context) (string, error) { return Version, nil }

// Start launches the job in dirs.Work, restored from dirs.State if asked.
func (e *Engine) Start(ctx context.Context, spec runner.JobSpec, dirs runner.Dirs, restore bool) (runner.Process, error) {
	if err := os.MkdirAll(dirs.State, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	// The token restored with the state is stale: a fresh one proves a save.
	if err := os.Remove(filepath.Join(dirs.State, SavedFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	// spec.Env and the protocol's variables, nothing of the runner's own
	// (none.JobEnv).
	env := map[string]string{}
	for k, v := range spec.Env {
		env[k] = v
	}
	env[EnvStateDir] = dirs.State
	if restore {
		env[EnvRestored] = "1"
	} else {
		delete(env, EnvRestored)
	}
	p, err := none.Launch(ctx, none.Cmd{Argv: spec.Argv, Dir: dirs.Work, Env: none.JobEnv(env), Stdout: spec.Stdout, Stderr: spec.Stderr})
	if err != nil {
		return nil, err
	}
	e.log.Debug("job started", "pid", p.Pid(), "restore", restore)
	return &Process{Process: p, e: e, dirs: dirs}, nil
}

// Process is a cooperative job.
type Process struct {
	*none.Process
	e       *Engine
	dirs    runner.Dirs
	stopped atomic.Bool // a stopping checkpoint was asked for
}

// Exit is the job's exit; Checkpointed when it saved and stopped on request.
func (p *Process) Exit() runner.Exit {
	ex := p.Process.Exit()
	if p.stopped.Load() && ex.Code == ExitCheckpointed && ex.Signal == "" {
		ex.Checkpointed = true
	}
	return ex
}

// Checkpoint asks the job to save its state: SIGTERM and wait for its exit
// with ExitCheckpointed when stop is set, else SIGUSR1 and wait for a new
// save token.
func (p *Process) Checkpoint(ctx context.Context, stop bool) (runner.Image, error) {
	if p.Exited() {
		return runner.Image{}, runner.ErrExited
	}
	ctx, cancel := context.WithTimeout(ctx, p.e.timeout)
	defer cancel()
	if stop {
		p.stopped.Store(true)
		if err := p.Signal(syscall.SIGTERM); err != nil {
			return p.exitedOr(fmt.Errorf("checkpoint: signal the job: %w", err))
		}
		select {
		case <-p.Done():
		case <-ctx.Done():
			p.Kill()
			return runner.Image{}, fmt.Errorf("checkpoint: the job did not save its state and exit within %s: %w", p.e.timeout, context.Cause(ctx))
		}
		if !p.Exit().Checkpointed {
			return runner.Image{}, runner.ErrExited
		}
		return p.image()
	}
	marker := filepath.Join(p.dirs.State, SavedFile)
	before, _ := os.ReadFile(marker)
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		return p.exitedOr(fmt.Errorf("checkpoint: signal the job: %w", err))
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if now, err := os.ReadFile(marker); err == nil && len(now) > 0 && !bytes.Equal(now, before) {
			return p.image()
		}
		select {
		case <-p.Done():
			return runner.Image{}, runner.ErrExited
		case <-ctx.Done():
			return runner.Image{}, fmt.Errorf("checkpoint: the job did not mark a save in %s within %s: %w", SavedFile, p.e.timeout, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// exitedOr returns ErrExited if the job has exited (a signal to an exited
// process fails), else err.
func (p *Process) exitedOr(err error) (runner.Image, error) {
	select {
	case <-p.Done():
		return runner.Image{}, runner.ErrExited
	case <-time.After(time.Second):
		return runner.Image{}, err
	}
}

// image lists the state folder and the working directory, with what the
// save says it left behind.
func (p *Process) image() (runner.Image, error) {
	img, err := ListFiles(p.dirs.Root, p.dirs.State, p.dirs.Work)
	if err != nil {
		return runner.Image{}, fmt.Errorf("checkpoint: %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(p.dirs.State, SavedFile)); err == nil {
		img.Behind = behind(b)
	}
	return img, nil
}

// behind reads the "behind_ms N" line of a save token; 0 without one.
func behind(token []byte) time.Duration {
	for _, line := range bytes.Split(token, []byte("\n")) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("behind_ms ")); ok {
			if ms, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); err == nil && ms > 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	return 0
}

// ListFiles lists the regular files under dirs as paths relative to root,
// with their total size.
func ListFiles(root string, dirs ...string) (runner.Image, error) {
	var img runner.Image
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			img.Files = append(img.Files, rel)
			img.Bytes += info.Size()
			return nil
		})
		if err != nil {
			return runner.Image{}, fmt.Errorf("list %s: %w", d, err)
		}
	}
	return img, nil
}
