package composer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

// jobState is the chain of the job node whose step is running.
type jobState struct {
	hop.State
	Node     int      `json:"node"` // the job's index in the program
	Engine   string   `json:"engine,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// jobDecide is a job's chain: the loop of the program that runs one job
// hop after hop. It takes the step's result and asks for the next hop,
// or ends the job with its output or an error.
//
// The rules, in order:
//   - the step finished: the job's output is the program's next value;
//   - the step checkpointed: check max_hops, max_duration, continue and
//     ask for the next hop;
//   - another invocation runs the job: ask again (the step waited);
//   - the step failed (or the platform failed it, which leaves only an
//     error): retry while retries last;
//   - anything else ends the job with an error naming the hop, the cause
//     and the command that resumes it.
//
// Hop and attempt numbers come from the step's report, which reads them
// from the job's lease in storage: the state only caches them.
func jobDecide(e Env, st carried, input map[string]any) Decision {
	job := st.Job
	p := e.Flow.jobs[job.Node].policy
	report, hasReport, err := hop.DecodeReport(input)
	if err != nil {
		return failed(e, st, "the step returned an unreadable report: "+err.Error(), true)
	}
	if !hasReport {
		// The platform ended the step (timeout, crash, bad result): OpenWhisk
		// hands the conductor only the error.
		cause := "the step returned no report"
		if v, ok := input["error"]; ok {
			cause = errorText(v)
		}
		return failed(e, st, cause, true)
	}
	if err := report.Verify(e.Secret, input); err != nil {
		return failed(e, st, fmt.Sprintf("the step's report is refused: %v", err), true)
	}
	if report.Job != job.Job {
		return failed(e, st, fmt.Sprintf("the step reported on job %q, not %q", report.Job, job.Job), true)
	}
	job.adopt(report)
	switch report.Status {
	case hop.Done:
		s := summary(*job, e.Now, report.Replayed)
		return endJob(e, st, hop.StripReserved(input), &s)
	case hop.Checkpointed:
		job.Hop++
		job.Attempt = 1
		return next(e, st)
	case hop.Waiting:
		if el := elapsed(job.State, e.Now); el >= p.Chain.MaxDuration {
			return endFailed(e, st, "max_duration", fmt.Sprintf("another invocation still runs the job after %s, past max_duration (%s)", el.Round(time.Millisecond), p.Chain.MaxDuration))
		}
		return call(e, st, 0)
	case hop.Failed:
		cause := report.Cause
		if cause == "" {
			cause = "the hop failed"
		}
		if report.ExitCode != 0 {
			cause = fmt.Sprintf("%s (exit code %d)", cause, report.ExitCode)
		}
		if report.StderrTail != "" {
			cause += "; stderr: " + strings.TrimSpace(report.StderrTail)
		}
		return failed(e, st, cause, report.Retryable)
	default:
		return failed(e, st, fmt.Sprintf("the step reported an unknown status %q", report.Status), true)
	}
}

// adopt takes what the step knows better than the state: where the job
// stands, as its lease says, and what the hop measured.
func (st *jobState) adopt(r hop.Report) {
	if r.Hop > 0 {
		st.Hop, st.Attempt = r.Hop, max(r.Attempt, 1)
	}
	if r.Started > 0 {
		st.Started = r.Started
	}
	if r.Engine != "" {
		st.Engine = r.Engine
	}
	if r.Generation > st.Generation {
		st.Generation = r.Generation
	}
	st.Totals = st.Totals.Add(r.Metrics)
	if r.Status != hop.Failed {
		st.Last = r.Metrics
	}
	for _, w := range r.Warnings {
		if !slices.Contains(st.Warnings, w) {
			st.Warnings = append(st.Warnings, w)
		}
	}
}

// next asks for the next hop after a checkpoint, if the policy allows.
func next(e Env, st carried) Decision {
	job := st.Job
	p := e.Flow.jobs[job.Node].policy
	if job.Hop > p.Chain.MaxHops {
		return endFailed(e, st, "max_hops", fmt.Sprintf("the job needs more than max_hops (%d) hops", p.Chain.MaxHops))
	}
	if el := elapsed(job.State, e.Now); el >= p.Chain.MaxDuration {
		return endFailed(e, st, "max_duration", fmt.Sprintf("the job ran for %s, past max_duration (%s)", el.Round(time.Millisecond), p.Chain.MaxDuration))
	}
	ok, err := p.Continue(env(p, job.State, e.Now))
	if err != nil {
		return endFailed(e, st, "continue", err.Error())
	}
	if !ok {
		return endFailed(e, st, "continue", fmt.Sprintf("the continue condition %q is false", p.Chain.Continue))
	}
	return call(e, st, 0)
}

// failed retries a failed hop from the newest whole generation, or ends
// the job. The attempt is the job's own (from its lease), so the budget
// holds across hand-overs, resumes and other invocations.
func failed(e Env, st carried, cause string, retryable bool) Decision {
	job := st.Job
	p := e.Flow.jobs[job.Node].policy
	if !retryable {
		return endFailed(e, st, "failed", cause)
	}
	if job.Attempt > p.Chain.Retries.Max {
		return endFailed(e, st, "retries", fmt.Sprintf("%s (after %d attempts)", cause, job.Attempt))
	}
	if el := elapsed(job.State, e.Now); el >= p.Chain.MaxDuration {
		return endFailed(e, st, "max_duration", fmt.Sprintf("%s, and the job is past max_duration (%s)", cause, p.Chain.MaxDuration))
	}
	job.Attempt++
	job.Retries++
	return call(e, st, backoff(p.Chain.Retries, job.Attempt))
}

// endFailed ends the job with an error the program can catch.
func endFailed(e Env, st carried, reason, cause string) Decision {
	s := summary(*st.Job, e.Now, false)
	return endJob(e, st, fail(st.Job, reason, cause).Result, &s)
}

// backoff is the wait before attempt (2, 3, ...): Backoff doubling per
// attempt up to MaxBackoff, whatever the attempt number says.
func backoff(r policies.Retries, attempt int) time.Duration {
	shift := min(max(attempt-2, 0), 30)
	d := r.Backoff << shift
	if d > r.MaxBackoff || d <= 0 {
		d = r.MaxBackoff
	}
	return d
}

// call returns the continuation that runs the running job's step.
func call(e Env, st carried, wait time.Duration) Decision {
	job := st.Job
	req := hop.Request{
		Job: job.Job, Key: job.Key, Hop: job.Hop, Attempt: job.Attempt, Generation: job.Generation,
		Started: job.Started, BackoffMS: wait.Milliseconds(), Last: job.Last, Chain: job.Chain, FromRecord: job.FromRecord,
	}
	return emit(e, st, e.Flow.jobs[job.Node].step, hop.WithRequest(job.Params, req), pending{WaitMS: wait.Milliseconds()})
}

// fail is a job's error dictionary, saying where to resume. OpenWhisk
// keeps only the error field of an error result, so everything goes
// inside it.
func fail(job *jobState, reason, cause string) Decision {
	e := map[string]any{"message": cause, "reason": reason}
	if reason == "" {
		e["reason"] = "input"
	}
	if job != nil {
		e["message"] = fmt.Sprintf("hop %d: %s; resume from generation %d with `wskx resume NAME %s`", job.Hop, cause, job.Generation, job.Key)
		e["job"] = job.Job
		e["key"] = job.Key
		e["hop"] = job.Hop
		e["attempt"] = job.Attempt
		e["generation"] = job.Generation
	}
	return Decision{Result: map[string]any{"error": e}}
}

func summary(job jobState, now time.Time, replayed bool) hop.Summary {
	return hop.Summary{
		Job: job.Job, Key: job.Key, Hops: job.Hop, Retries: job.Retries, Invocations: 1,
		Generation: job.Generation, Engine: job.Engine, Replayed: replayed, Warnings: job.Warnings,
		ElapsedMS: elapsed(job.State, now).Milliseconds(), Totals: job.Totals,
	}
}

func elapsed(st hop.State, now time.Time) time.Duration {
	return now.Sub(time.UnixMilli(st.Started))
}

func env(p *policies.Policy, st hop.State, now time.Time) policies.Env {
	el := elapsed(st, now)
	return policies.Env{
		Hop: st.Hop, Attempt: st.Attempt, Elapsed: el, Remaining: p.Chain.MaxDuration - el,
		Timeout: p.Job.Timeout, Params: st.Params,
		Last: LastHop(st.Last),
	}
}

// LastHop turns a hop's measurements into what policy expressions see as
// last. Upload and checkpoint times are per checkpoint: a hop with
// interval checkpoints sums several, and a margin of three times that sum
// would leave no time to work.
func LastHop(m hop.Metrics) policies.LastHop {
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	n := int64(max(m.Checkpoints, 1))
	return policies.LastHop{
		CheckpointTime: ms(m.CheckpointMS / n), WorkTime: ms(m.WorkMS), UploadTime: ms(m.UploadMS / n),
		DownloadTime: ms(m.DownloadMS), RestoreTime: ms(m.RestoreMS), Bytes: m.ImageBytes,
	}
}

// JobID derives a job's id from its policy and idempotency key, so the same
// key always finds the same checkpoints and result.
func JobID(policy, key string) string {
	sum := sha256.Sum256([]byte(policy + "\x00" + key))
	return "j" + hex.EncodeToString(sum[:12])
}
