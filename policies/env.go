package policies

import "time"

// Env is what an expression can read. Field names in expressions are the
// expr tags: `hop < 10 && remaining > duration("5m")`,
// `max(duration("2s"), last.checkpoint_time * 3)`, `params.job_id`.
type Env struct {
	Hop     int `expr:"hop"`     // 1-based hop number over the whole job
	Attempt int `expr:"attempt"` // 1-based attempt of this hop
	// Elapsed is the time since the job's first hop was requested.
	Elapsed time.Duration `expr:"elapsed"`
	// Remaining is what is left of the chain's max_duration.
	Remaining time.Duration `expr:"remaining"`
	// Timeout is the step action's time limit.
	Timeout time.Duration  `expr:"timeout"`
	Params  map[string]any `expr:"params"` // the job's input parameters
	Last    LastHop        `expr:"last"`   // the previous hop's measurements (zero on hop 1)
}

// LastHop is what the previous hop measured.
type LastHop struct {
	CheckpointTime time.Duration `expr:"checkpoint_time"`
	WorkTime       time.Duration `expr:"work_time"`
	UploadTime     time.Duration `expr:"upload_time"`
	DownloadTime   time.Duration `expr:"download_time"`
	RestoreTime    time.Duration `expr:"restore_time"`
	Bytes          int64         `expr:"bytes"` // checkpoint image bytes
}
