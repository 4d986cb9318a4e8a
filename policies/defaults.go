package policies

import "time"

// Defaults, in one place. docs/policies.md lists the same values; a test
// keeps the two in step.
const (
	// DefaultEngine picks DMTCP where it is installed and the cooperative
	// engine elsewhere.
	DefaultEngine = EngineAuto
	// DefaultTimeout is OpenWhisk's default action time limit.
	DefaultTimeout = 60 * time.Second
	// DefaultMemory is OpenWhisk's default action memory limit, in MB.
	DefaultMemory = 256
	// DefaultMargin is how long before the deadline the deadline
	// checkpoint starts when the policy names no margin. DMTCP's notes
	// budget 0.5 s plus 3 ms per MB of resident memory, plus the upload.
	DefaultMargin = 5 * time.Second
	// DefaultMaxHops bounds a chain that names no bound.
	DefaultMaxHops = 100
	// DefaultMaxDuration bounds a chain's wall time from its first hop.
	DefaultMaxDuration = 24 * time.Hour
	// DefaultContinue keeps going as long as the budgets allow.
	DefaultContinue = "true"
	// DefaultRetries is how many times a failed hop is tried again.
	DefaultRetries = 2
	// DefaultBackoff is the wait before the first retry; it doubles for
	// each further attempt up to DefaultMaxBackoff.
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
	// BackoffTimeoutShare: a retried step waits its backoff inside its own
	// activation, so a backoff that is not given and whose default would
	// not fit in job.timeout is job.timeout divided by this, leaving the
	// rest of the activation to the job.
	BackoffTimeoutShare = 4
	// DefaultLengthLimit is OpenWhisk's default sequence and conductor
	// component limit.
	DefaultLengthLimit = 50
	// DefaultOnLengthLimit carries the job on in a new invocation.
	DefaultOnLengthLimit = OnLimitContinue
	// DefaultStorageURL keeps checkpoints on the local disk.
	DefaultStorageURL = "file:///tmp/wskx/store"
	// DefaultChecksum is the per-file checksum of a checkpoint image.
	DefaultChecksum = "sha256"
	// DefaultKeep is how many whole generations of a job are kept.
	DefaultKeep = 2
	// DefaultRetainFinished is how long a finished job's checkpoints stay.
	DefaultRetainFinished = time.Hour
	// DefaultJobDir is the parent of every job's fixed paths. DMTCP
	// restores open files at their old absolute paths, so it must be the
	// same in every container.
	DefaultJobDir = "/tmp/wskx/jobs"
)

// Engines.
const (
	EngineAuto        = "auto"
	EngineDMTCP       = "dmtcp"
	EngineCooperative = "cooperative"
	EngineNone        = "none"
)

// What to do when the next hop would pass the composition length limit.
const (
	OnLimitContinue = "continue" // hand the job to a new invocation of the conductor
	OnLimitFail     = "fail"     // end with an error naming the generation to resume from
)

// OpenWhisk's bounds on action limits (a stock deployment).
const (
	MinTimeout = 100 * time.Millisecond
	MaxTimeout = 300 * time.Second
	MinMemory  = 128
	MaxMemory  = 512
)
