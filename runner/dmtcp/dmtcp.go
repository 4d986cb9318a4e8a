// Package dmtcp is the transparent engine: the user's unmodified program
// runs under DMTCP and is checkpointed from outside.
//
// Each hop has a coordinator of its own (a child in its own process group,
// killed with SIGKILL when the hop ends, and by the kernel when the runner
// dies, as are the job and dmtcp_restart). The job's environment is
// exactly its spec's (DMTCP saves it in every image); DMTCP's other
// programs get only PATH and TMPDIR, the hop's temp folder, where the
// coordinator keeps its log whatever its --tmpdir says.
//
// The first hop starts the job with dmtcp_launch, later hops with
// dmtcp_restart (address-space randomisation off for the restart only).
// A restart, or a launch, must show the job as
// running in the coordinator's status within Options.UpTimeout, else it is
// killed: a damaged image otherwise spins forever, and a static program
// (a Go binary) runs outside DMTCP's control.
//
// Checkpoints. The coordinator runs without --kill-after-ckpt so that the
// same job can take both kinds:
//
//   - stop (deadline): dmtcp_command --kcheckpoint. Every process exits
//     right after writing its image, before it runs another instruction
//     of the job (the same mechanism as --kill-after-ckpt, for that one
//     checkpoint), so nothing the job prints is printed twice on restore.
//     Checkpoint then waits for the job's exit and checks that each
//     process left a fresh image (new inode: DMTCP renames a finished
//     image into place).
//   - interval: dmtcp_command --bcheckpoint; the job resumes when the
//     images are written. Restoring such an image repeats what the job did
//     after it, output included: that is the rollback an interval
//     checkpoint means. The working directory is listed, not copied:
//     files the job holds open are cut back to their checkpoint sizes on
//     restore (appends are safe), but a job that rewrites files in place
//     while an interval image is uploaded may see them newer than its
//     memory.
//
// Whether the job finished is decided from the engine's own wait on it,
// never from dmtcp_command's answer. Exit status 99 with an ASSERT line
// from DMTCP on stderr is DMTCP failing, reported as ErrDMTCPFailed by
// Start and by Process.Failure, and as Exit().EngineFailed.
//
// DMTCP does not virtualise the monotonic clock: jobs must sleep for
// relative durations, not until absolute monotonic deadlines, and retry
// sleeps that end with EINTR (the checkpoint signal interrupts them).
package dmtcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/none"
)

// EnvHome names the DMTCP installation prefix (binaries in its bin/).
const EnvHome = "WSKX_DMTCP_HOME"

// Defaults for Options.
const (
	DefaultCheckpointTimeout = 2 * time.Minute
	DefaultUpTimeout         = 10 * time.Second
)

// Errors callers may want to tell apart.
var (
	// ErrNotInstalled: DMTCP's programs were not found.
	ErrNotInstalled = errors.New("DMTCP is not installed")
	// ErrNotRunning: a launched or restarted job did not show up as
	// running under the coordinator in time (a damaged image, or a program
	// DMTCP cannot manage).
	ErrNotRunning = errors.New("the job did not come up under DMTCP")
	// ErrDMTCPFailed: DMTCP itself failed (exit status 99 and an ASSERT).
	ErrDMTCPFailed = errors.New("DMTCP failed")
)

// installHint says how to get DMTCP.
const installHint = "build it from https://github.com/dmtcp/dmtcp (./configure --prefix=DIR && make && make install) " +
	"and set " + EnvHome + "=DIR or put DIR/bin on PATH"

// Options configure the engine.
type Options struct {
	// Home is DMTCP's installation prefix (programs in Home/bin). Empty:
	// $WSKX_DMTCP_HOME, else the programs are looked up on PATH.
	Home   string
	Logger *slog.Logger // nil: slog.Default()
	// CheckpointTimeout bounds one checkpoint (0: DefaultCheckpointTimeout).
	CheckpointTimeout time.Duration
	// UpTimeout bounds how long a launch or restart may take to show the
	// job running (0: DefaultUpTimeout).
	UpTimeout time.Duration
}

// Engine runs jobs under DMTCP.
type Engine struct {
	bin         map[string]string // program name -> path
	log         *slog.Logger
	ckptTimeout time.Duration
	upTimeout   time.Duration

	verOnce sync.Once
	ver     string
	verErr  error
}

var _ runner.Engine = (*Engine)(nil)

var programs = []string{"dmtcp_launch", "dmtcp_restart", "dmtcp_command", "dmtcp_coordinator"}

// New finds DMTCP's programs. It fails with ErrNotInstalled, saying how to
// install DMTCP, when they are missing.
func New(o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CheckpointTimeout <= 0 {
		o.CheckpointTimeout = DefaultCheckpointTimeout
	}
	if o.UpTimeout <= 0 {
		o.UpTimeout = DefaultUpTimeout
	}
	home := o.Home
	if home == "" {
		home = os.Getenv(EnvHome)
	}
	e := &Engine{bin: map[string]string{}, log: o.Logger, ckptTimeout: o.CheckpointTimeout, upTimeout: o.UpTimeout}
	for _, name := range programs {
		var path string
		var err error
		if home != "" {
			path = filepath.Join(home, "bin", name)
			err = executable(path)
		} else {
			path, err = exec.LookPath(name)
		}
		if err != nil {
			where := "on PATH"
			if home != "" {
				where = "in " + filepath.Join(home, "bin")
			}
			return nil, fmt.Errorf("dmtcp: %w: %s not found %s; %s", ErrNotInstalled, name, where, installHint)
		}
		e.bin[name] = path
	}
	// Checked now rather than at the first restart, hops later.
	if err := none.CheckNoASLR(); err != nil {
		return nil, fmt.Errorf("dmtcp: restarts need it: %w", err)
	}
	return e, nil
}

func executable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// Name is "dmtcp".
func (e *Engine) Name() string { return "dmtcp" }

// FixedPaths is true: a restored process reopens its files and working
// directory at the absolute paths they had, so a job's folder must be the
// same in every container.
func (e *Engine) FixedPaths() bool { return true }

var versionRE = regexp.MustCompile(`\(DMTCP\)\s+(\S+)`)

// Version is DMTCP's release, from dmtcp_launch --version.
func (e *Engine) Version(ctx context.Context) (string, error) {
	e.verOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, e.bin["dmtcp_launch"], "--version")
		cmd.Env = none.JobEnv(nil) // nothing of the runner's
		out, err := cmd.CombinedOutput()
		if err != nil {
			e.verErr = fmt.Errorf("dmtcp version: %w: %s", err, strings.TrimSpace(string(out)))
			return
		}
		m := versionRE.FindSubmatch(out)
		if m == nil {
			e.verErr = fmt.Errorf("dmtcp version: unexpected output %q", firstLine(string(out)))
			return
		}
		e.ver = string(m[1])
	})
	return e.ver, e.verErr
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
