package runner

import (
	"context"
	"errors"
	"time"
)

// Engine starts a job fresh or from a checkpoint, and checkpoints it. Each
// engine lives in a folder of its own (runner/dmtcp, runner/cooperative,
// runner/none); the step runner sees only this interface.
type Engine interface {
	// Name is the policy's name for the engine: "dmtcp", "cooperative", "none".
	Name() string
	// Version identifies the engine's implementation (for DMTCP its
	// release), recorded in every checkpoint manifest so that an image is
	// never restored by an engine that cannot read it.
	Version(ctx context.Context) (string, error)
	// Start launches the job. With restore set, the files of a checkpoint
	// have already been unpacked into dirs and the job continues from them.
	Start(ctx context.Context, spec JobSpec, dirs Dirs, restore bool) (Process, error)
}

// JobSpec is the job as the step runs it this hop.
type JobSpec struct {
	Argv []string          // program and arguments, arguments already evaluated
	Env  map[string]string // extra environment for the job
	// Stdout and Stderr receive the job's streams for this hop. The runner
	// owns them; engines must route restored processes' output here too.
	Stdout, Stderr interface{ Write([]byte) (int, error) }
}

// Dirs are the fixed absolute paths of one job. They are the same in every
// container (DMTCP restores open files at their old absolute paths).
type Dirs struct {
	Root  string // parent of the rest; wiped and re-created at the start of a hop
	Work  string // the job's working directory, shipped with every checkpoint
	Ckpt  string // where the engine writes images, shipped with every checkpoint
	Tmp   string // engine scratch space, never shipped
	State string // cooperative jobs' own state ($WSKX_STATE_DIR), shipped
}

// Image lists what one checkpoint consists of.
type Image struct {
	Files []string // paths relative to Dirs.Root, every one to be shipped
	Bytes int64    // their total size
	// Behind is how long before the image was taken the state it holds
	// was current: work the job had in progress and did not save (a
	// cooperative job's interrupted step), which the next hop does again.
	// Zero for an engine that takes the whole process as it is.
	Behind time.Duration
}

// Exit is how a job ended.
type Exit struct {
	Code   int // exit status, or -1 when killed by a signal
	Signal string
	// Checkpointed is true when the job ended because a stopping
	// checkpoint completed (its exit status is then not the job's own).
	Checkpointed bool
	// EngineFailed is true when the engine itself failed, not the job (for
	// DMTCP: exit status 99 with one of its assertion messages on stderr),
	// so the exit status says nothing about the job and the hop may be
	// retried.
	EngineFailed bool
}

// fixedPaths is implemented by engines whose images name absolute paths
// (DMTCP reopens files and the working directory where they were): such a
// job runs at the same folder in every container, which its lease keeps
// to one activation at a time. Other engines get a folder per activation.
type fixedPaths interface {
	FixedPaths() bool
}

// ErrExited is returned by Checkpoint when the job exited before or while
// the checkpoint was being taken: the job's exit wins and any partial image
// must be discarded.
var ErrExited = errors.New("job exited during checkpoint")

// ErrNotSupported is returned by engines that cannot do what was asked
// (for example, the none engine asked to checkpoint).
var ErrNotSupported = errors.New("not supported by this engine")

// Process is one running job.
type Process interface {
	// Checkpoint takes a checkpoint. With stop set the job is stopped once
	// the image is complete (the deadline checkpoint); otherwise it keeps
	// running (an interval checkpoint). It returns ErrExited if the job
	// exited first, whatever state the image is in.
	Checkpoint(ctx context.Context, stop bool) (Image, error)
	// Done is closed when the job has exited; Exit is then valid.
	Done() <-chan struct{}
	Exit() Exit
	// Kill stops the job and everything it started, at once.
	Kill()
	// Started is when the job started running this hop (after any restore).
	Started() time.Time
}
