// Package none is the engine that cannot checkpoint: it runs the job once,
// in a process group of its own. A job that outlives the action's time
// limit is the step runner's to report.
//
// The package also holds Launch, the process-group launcher the other
// engines build on.
package none

import (
	"context"
	"log/slog"

	"github.com/wskx/wskx/runner"
)

// Version is the implementation's version, recorded in manifests.
const Version = "1"

// Options configure the engine.
type Options struct {
	Logger *slog.Logger // nil: slog.Default()
}

// Engine runs jobs without checkpoints.
type Engine struct {
	log *slog.Logger
}

var _ runner.Engine = (*Engine)(nil)

// New returns the none engine.
func New(o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Engine{log: o.Logger}, nil
}

// Name is "none".
func (e *Engine) Name() string { return "none" }

// Version returns the implementation's version.
func (e *Engine) Version(ctx context.Context) (string, error) { return Version, nil }

// Start runs the job in dirs.Work. There is nothing to restore from.
func (e *Engine) Start(ctx context.Context, spec runner.JobSpec, dirs runner.Dirs, restore bool) (runner.Process, error) {
	if restore {
		return nil, runner.ErrNotSupported
	}
	p, err := Launch(ctx, Cmd{Argv: spec.Argv, Dir: dirs.Work, Env: JobEnv(spec.Env), Stdout: spec.Stdout, Stderr: spec.Stderr})
	if err != nil {
		return nil, err
	}
	e.log.Debug("job started", "pid", p.Pid(), "argv", spec.Argv)
	return noCheckpoint{p}, nil
}

// noCheckpoint is a Process whose Checkpoint is not supported.
type noCheckpoint struct{ *Process }

func (noCheckpoint) Checkpoint(ctx context.Context, stop bool) (runner.Image, error) {
	return runner.Image{}, runner.ErrNotSupported
}
