// Package hop defines the messages that cross the boundary between a
// chain's conductor action and its step action. They are the only contract
// between the two: the conductor never sees checkpoint bytes, and the step
// never decides whether the chain goes on.
package hop

// Reserved keys. StateKey holds the conductor's carried state (in the
// continuation's state) and the chain summary (in the final result);
// StepKey holds the request in the step's parameters and the report in the
// step's result. They differ because the controller lays the state over the
// step's result and the state would otherwise hide the report. ResumeKey
// names a job by its idempotency key on a conductor's first run (wskx
// resume); NextKey is the self-invoke baseline's next activation.
const (
	StateKey  = "$wskx"
	StepKey   = "$wskx_step"
	ResumeKey = "$wskx_resume"
	NextKey   = "$wskx_next"
)

// Reserved says whether a parameter or result key belongs to wskx.
func Reserved(key string) bool {
	switch key {
	case StateKey, StepKey, ResumeKey, NextKey:
		return true
	}
	return false
}

// StripReserved returns m without wskx's reserved keys: the job's own
// parameters or output.
func StripReserved(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !Reserved(k) {
			out[k] = v
		}
	}
	return out
}

// Request is what the conductor asks of one step activation.
type Request struct {
	Job        string  `json:"job"`                  // job id, stable over every hop and invocation
	Key        string  `json:"key"`                  // idempotency key the job id derives from
	Hop        int     `json:"hop"`                  // 1-based hop number over the whole job
	Attempt    int     `json:"attempt"`              // 1-based attempt of this hop
	Generation int     `json:"generation"`           // newest whole checkpoint generation known, 0 for none
	Started    int64   `json:"started"`              // epoch ms at which the job's first hop was requested
	BackoffMS  int64   `json:"backoff_ms,omitempty"` // wait this long before starting (retry backoff)
	Last       Metrics `json:"last"`                 // the previous hop's measurements
	// Chain identifies the conductor chain asking (kept across hand-overs,
	// new for every other invocation), so that a step can tell its own
	// chain's lease from another chain's.
	Chain string `json:"chain,omitempty"`
	// FromRecord asks the step to run the job with the parameters recorded
	// when it started (wskx resume without parameters).
	FromRecord bool `json:"from_record,omitempty"`
}

// Status says how a step activation ended.
type Status string

// Step outcomes.
const (
	Checkpointed Status = "checkpointed" // the job was checkpointed and stopped; carry on from Generation
	Done         Status = "done"         // the job finished; its output is the rest of the result
	Failed       Status = "failed"       // the hop failed; Retryable says whether a retry can help
	// Waiting says another chain holds the job's lease and is running it:
	// this chain waited and asks again, without spending a retry.
	Waiting Status = "waiting"
)

// Report is what a step activation returns under StepKey.
type Report struct {
	// Job, Hop and Attempt echo the request, so that a step's activation
	// record alone says which hop it was.
	// Hop and Attempt are the job's own, from its lease in storage: they
	// go on across hand-overs, resumes and other invocations of the job.
	Job        string   `json:"job"`
	Hop        int      `json:"hop"`
	Attempt    int      `json:"attempt"`
	Started    int64    `json:"started,omitempty"` // epoch ms of the job's first hop, from storage
	Status     Status   `json:"status"`
	Engine     string   `json:"engine"`
	Generation int      `json:"generation,omitempty"` // newest generation this hop wrote, else the one it restored
	Restored   int      `json:"restored,omitempty"`   // generation this hop restored the job from, 0 for a fresh start
	Retryable  bool     `json:"retryable,omitempty"`
	Cause      string   `json:"cause,omitempty"`
	ExitCode   int      `json:"exit_code,omitempty"`
	StderrTail string   `json:"stderr_tail,omitempty"`
	Replayed   bool     `json:"replayed,omitempty"` // the result was read back from the store, not computed
	Warnings   []string `json:"warnings,omitempty"` // damage found in storage and worked around
	Metrics    Metrics  `json:"metrics"`
	// MAC authenticates the report and the job output beside it (Sign).
	MAC string `json:"mac,omitempty"`
}

// Metrics are one hop's measurements, in milliseconds and bytes.
type Metrics struct {
	Activation   string `json:"activation,omitempty"`
	Start        int64  `json:"start,omitempty"` // epoch ms
	End          int64  `json:"end,omitempty"`   // epoch ms
	WorkMS       int64  `json:"work_ms"`
	CheckpointMS int64  `json:"checkpoint_ms"`
	UploadMS     int64  `json:"upload_ms"`
	DownloadMS   int64  `json:"download_ms"`
	RestoreMS    int64  `json:"restore_ms"`
	ImageBytes   int64  `json:"image_bytes"`
	Checkpoints  int    `json:"checkpoints"` // checkpoints taken in this hop (interval and deadline)
	// LostMS is work this hop did after the newest image it leaves behind:
	// a later hop restoring that image does it again.
	LostMS int64 `json:"lost_ms,omitempty"`
	// WaitMS is billed time spent blocked on another activation (a hop
	// waiting for the holder of its claim to pass its deadline), from
	// WaitStart (epoch ms).
	WaitMS    int64 `json:"wait_ms,omitempty"`
	WaitStart int64 `json:"wait_start,omitempty"`
}

// Add sums two hops' metrics (times and bytes), keeping m's identity fields.
func (m Metrics) Add(o Metrics) Metrics {
	m.WorkMS += o.WorkMS
	m.CheckpointMS += o.CheckpointMS
	m.UploadMS += o.UploadMS
	m.DownloadMS += o.DownloadMS
	m.RestoreMS += o.RestoreMS
	m.ImageBytes += o.ImageBytes
	m.Checkpoints += o.Checkpoints
	m.LostMS += o.LostMS
	m.WaitMS += o.WaitMS
	return m
}

// State is a job's chain as the conductor carries it between its runs, in
// the continuation's state under StateKey.
type State struct {
	Job        string         `json:"job"`
	Key        string         `json:"key"`
	Hop        int            `json:"hop"`
	Attempt    int            `json:"attempt"`
	Generation int            `json:"generation"`
	Started    int64          `json:"started"`
	Retries    int            `json:"retries"` // failed attempts seen by this chain
	Chain      string         `json:"chain"`   // see Request.Chain
	FromRecord bool           `json:"from_record,omitempty"`
	Params     map[string]any `json:"params"` // the job's input parameters, carried to every hop
	Last       Metrics        `json:"last"`
	Totals     Metrics        `json:"totals"`
}

// Summary is the chain's account in the final result under StateKey.
type Summary struct {
	Job         string   `json:"job"`
	Key         string   `json:"key"`
	Hops        int      `json:"hops"`
	Retries     int      `json:"retries"`
	Invocations int      `json:"invocations"`
	Generation  int      `json:"generation"`
	Engine      string   `json:"engine"`
	Replayed    bool     `json:"replayed,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
	ElapsedMS   int64    `json:"elapsed_ms"`
	Totals      Metrics  `json:"totals"`
	Previous    []string `json:"previous,omitempty"`
	// Continued is set on the result of an invocation that handed the job to
	// a new invocation because of the platform's composition length limit.
	Continued string `json:"continued,omitempty"`
	// Workflow is the workflow's idempotency key, and Jobs the account of
	// each job it ran, in order, when the workflow is more than one job;
	// then the fields above sum its jobs.
	Workflow   string    `json:"workflow,omitempty"`
	Jobs       []Summary `json:"jobs,omitempty"`
	Components int       `json:"components,omitempty"` // component activations over every invocation
	// Join and Branches are set on the result of an invocation that
	// started a fan-out whose last branch goes on with the workflow: the
	// join's name and the branches' activations, one of which says where
	// the workflow went (Continued).
	Join     string   `json:"join,omitempty"`
	Branches []string `json:"branches,omitempty"`
	// WaitMS is billed time the workflow's conductors spent waiting for
	// their branches (join: wait).
	WaitMS int64 `json:"wait_ms,omitempty"`
}
