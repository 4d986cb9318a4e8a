package composer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

// Decision is what one conductor run concludes.
type Decision struct {
	// Result is the conductor run's result: a continuation
	// {action, params, state}, a final {params}, or an error dictionary.
	Result map[string]any
	// Handoff, when set, is the input of a new invocation of the conductor
	// that carries the job on past the composition length limit. The
	// caller invokes it and then ends this invocation with HandoffResult.
	Handoff map[string]any
	handed  carried
}

// Env is what Decide needs besides its input: the policy, the step
// action's fully qualified name, the deployment's secret, the clock, and a
// source of fresh ids (idempotency keys and chain ids).
type Env struct {
	Policy *policies.Policy
	Step   string
	Secret []byte
	Now    time.Time
	NewID  func() string
}

// Decide is the conductor's decision logic. input is the conductor run's
// input as the controller builds it: the invocation's parameters on the
// first run, afterwards the step's result with the carried state laid over
// it. The carried state and the step's report are authenticated with the
// deployment's secret; anything that does not verify is refused.
//
// The rules, in order:
//   - first run (no state, or a handed-over state): start the job, or go
//     on with the handed-over one, budgets and hop numbers kept;
//   - the step finished: end with the job's output and a chain summary;
//   - the step checkpointed: check max_hops, max_duration, continue and
//     the length limit, then ask for the next hop;
//   - another invocation runs the job: ask again (the step waited);
//   - the step failed (or the platform failed it, which leaves only an
//     error): retry while retries last;
//   - anything else ends the chain with an error naming the hop, the cause
//     and the command that resumes the job.
//
// Hop and attempt numbers come from the step's report, which reads them
// from the job's lease in storage: the state only caches them.
func Decide(e Env, input map[string]any) Decision {
	st, phase, err := readState(e, input)
	if err != nil {
		return fail(nil, "state", err.Error())
	}
	if phase != phaseMid {
		return first(e, input, st, phase == phaseHandoff)
	}
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
	if report.Job != st.Job {
		return failed(e, st, fmt.Sprintf("the step reported on job %q, not %q", report.Job, st.Job), true)
	}
	st.adopt(report)
	switch report.Status {
	case hop.Done:
		out := hop.StripReserved(input)
		out[hop.StateKey] = summary(st, e.Now, report.Replayed)
		return Decision{Result: map[string]any{"params": out}}
	case hop.Checkpointed:
		st.Hop++
		st.Attempt = 1
		return next(e, st)
	case hop.Waiting:
		if el := elapsed(st, e.Now); el >= e.Policy.Chain.MaxDuration {
			return fail(&st, "max_duration", fmt.Sprintf("another invocation still runs the job after %s, past max_duration (%s)", el.Round(time.Millisecond), e.Policy.Chain.MaxDuration))
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

// carried is the conductor's state with the fields only Decide uses.
type carried struct {
	hop.State
	Engine   string   `json:"engine,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Issued is when the state was sealed (epoch ms): a sealed state is
	// good for as long as the controller can take to bring it back, so an
	// old one taken from a record and replayed is refused.
	Issued int64 `json:"issued"`
}

// How long a sealed state is good for. A continuation comes back once its
// component ends: within the step's time limit, its backoff, and the
// minute the controller waits past a component's limit. A hand-over is
// invoked at once; an hour covers a loaded platform's queue.
const (
	stateSlack = 2 * time.Minute
	handoffAge = time.Hour
	clockSkew  = time.Minute
)

func maxAge(p *policies.Policy, ph phase) time.Duration {
	if ph == phaseHandoff {
		return handoffAge
	}
	return p.Job.Timeout + p.Chain.Retries.MaxBackoff + stateSlack
}

// adopt takes what the step knows better than the state: where the job
// stands, as its lease says, and what the hop measured.
func (st *carried) adopt(r hop.Report) {
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

type phase int

const (
	phaseFirst   phase = iota // a new invocation of a job
	phaseMid                  // after a component of this invocation
	phaseHandoff              // a job handed over from another invocation
)

// readState finds and verifies the carried state.
func readState(e Env, input map[string]any) (carried, phase, error) {
	var st carried
	raw, ok := input[hop.StateKey]
	if !ok {
		return st, phaseFirst, nil
	}
	if m, isMap := raw.(map[string]any); isMap {
		if _, isSummary := m["hops"]; isSummary {
			// The summary of an earlier wskx job whose result is this
			// invocation's input (a sequence of two jobs): not a state.
			return st, phaseFirst, nil
		}
	}
	ph := phaseFirst
	if err := hop.Open(e.Secret, hop.PurposeState, raw, &st); err == nil {
		ph = phaseMid
	} else if err := hop.Open(e.Secret, hop.PurposeHandoff, raw, &st); err == nil {
		ph = phaseHandoff
	}
	if ph != phaseFirst {
		issued := time.UnixMilli(st.Issued)
		if age := e.Now.Sub(issued); age > maxAge(e.Policy, ph) || age < -clockSkew {
			return st, phaseFirst, fmt.Errorf("the %s state was sealed at %s, too long ago to be in flight: it is replayed, not carried; "+
				"to go on with the job, invoke the conductor with its parameters again, or use `wskx resume NAME %s`", hop.StateKey, issued.UTC().Format(time.RFC3339), st.Key)
		}
		return st, ph, nil
	}
	return st, phaseFirst, fmt.Errorf("the %s parameter is not a state this deployment wrote (forged, altered, cut short or sealed with another key); "+
		"to go on with a job, invoke the conductor with its parameters again, or use `wskx resume NAME KEY`", hop.StateKey)
}

// first starts an invocation: a new job, a job named by its key (a second
// invocation or wskx resume), or one handed over.
func first(e Env, input map[string]any, st carried, handed bool) Decision {
	if _, ok := input[hop.StepKey]; ok {
		return fail(nil, "", fmt.Sprintf("%s is a reserved parameter name", hop.StepKey))
	}
	if handed {
		// Handed over: keep the job's history, budgets and hop numbers.
		st.Invocation++
		st.Components = 0
		return call(e, st, 0)
	}
	params := hop.StripReserved(input)
	key, err := e.Policy.IdempotencyKey(policies.Env{Hop: 1, Attempt: 1, Timeout: e.Policy.Job.Timeout, Params: params})
	if err != nil {
		return fail(nil, "", err.Error())
	}
	fromRecord := false
	if raw, ok := input[hop.ResumeKey]; ok {
		named, isString := raw.(string)
		if !isString || named == "" || len(named) > maxKey {
			return fail(nil, "", fmt.Sprintf("%s must be a job's idempotency key (a string of 1 to %d characters)", hop.ResumeKey, maxKey))
		}
		if key != "" && len(params) > 0 && key != named {
			return fail(nil, "", fmt.Sprintf("the key %q does not match the parameters: the policy's idempotency key for them is %q", named, key))
		}
		key, fromRecord = named, len(params) == 0
	}
	if key == "" {
		key = e.NewID()
	}
	st = carried{State: hop.State{Key: key, Chain: e.NewID(), Hop: 1, Attempt: 1, Params: params,
		Started: e.Now.UnixMilli(), Invocation: 1, FromRecord: fromRecord}}
	st.Job = JobID(e.Policy.Name, st.Key)
	return call(e, st, 0)
}

// maxKey bounds an idempotency key named by a caller.
const maxKey = 1024

// next asks for the next hop after a checkpoint, if the policy allows.
func next(e Env, st carried) Decision {
	p := e.Policy
	if st.Hop > p.Chain.MaxHops {
		return fail(&st, "max_hops", fmt.Sprintf("the job needs more than max_hops (%d) hops", p.Chain.MaxHops))
	}
	if el := elapsed(st, e.Now); el >= p.Chain.MaxDuration {
		return fail(&st, "max_duration", fmt.Sprintf("the job ran for %s, past max_duration (%s)", el.Round(time.Millisecond), p.Chain.MaxDuration))
	}
	ok, err := p.Continue(env(p, st, e.Now))
	if err != nil {
		return fail(&st, "continue", err.Error())
	}
	if !ok {
		return fail(&st, "continue", fmt.Sprintf("the continue condition %q is false", p.Chain.Continue))
	}
	return call(e, st, 0)
}

// failed retries a failed hop from the newest whole generation, or ends.
// The attempt is the job's own (from its lease), so the budget holds
// across hand-overs, resumes and other invocations.
func failed(e Env, st carried, cause string, retryable bool) Decision {
	p := e.Policy
	if !retryable {
		return fail(&st, "failed", cause)
	}
	if st.Attempt > p.Chain.Retries.Max {
		return fail(&st, "retries", fmt.Sprintf("%s (after %d attempts)", cause, st.Attempt))
	}
	if el := elapsed(st, e.Now); el >= p.Chain.MaxDuration {
		return fail(&st, "max_duration", fmt.Sprintf("%s, and the job is past max_duration (%s)", cause, p.Chain.MaxDuration))
	}
	st.Attempt++
	st.Retries++
	return call(e, st, backoff(p.Chain.Retries, st.Attempt))
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

// call returns the continuation that runs the step, or hands the job to a
// new invocation when the next component would pass the length limit.
func call(e Env, st carried, wait time.Duration) Decision {
	p := e.Policy
	if st.Components+1 > p.Chain.LengthLimit {
		if p.Chain.OnLengthLimit == policies.OnLimitFail {
			return fail(&st, "length_limit", fmt.Sprintf("the next hop would pass the composition length limit (%d components)", p.Chain.LengthLimit))
		}
		handed := st
		handed.Components = 0
		handed.Issued = e.Now.UnixMilli()
		token, err := hop.Seal(e.Secret, hop.PurposeHandoff, handed)
		if err != nil {
			return fail(&st, "length_limit", err.Error())
		}
		return Decision{Handoff: map[string]any{hop.StateKey: token}, handed: handed}
	}
	req := hop.Request{
		Job: st.Job, Key: st.Key, Hop: st.Hop, Attempt: st.Attempt, Generation: st.Generation,
		Started: st.Started, BackoffMS: wait.Milliseconds(), Last: st.Last, Chain: st.Chain, FromRecord: st.FromRecord,
	}
	params := maps.Clone(st.Params)
	if params == nil {
		params = map[string]any{}
	}
	params[hop.StepKey] = req
	// Count the component about to run, as the controller does.
	st.Components++
	st.Issued = e.Now.UnixMilli()
	token, err := hop.Seal(e.Secret, hop.PurposeState, st)
	if err != nil {
		return fail(&st, "state", err.Error())
	}
	return Decision{Result: map[string]any{
		"action": e.Step,
		"params": params,
		"state":  map[string]any{hop.StateKey: token},
	}}
}

// HandoffResult ends an invocation whose job went on in another one.
func (d Decision) HandoffResult(next string, now time.Time) map[string]any {
	s := summary(d.handed, now, false)
	s.Continued = next
	return map[string]any{"params": map[string]any{hop.StateKey: s}}
}

// HandoffFailed ends an invocation whose job could not be handed to a new
// one, saying how to resume it.
func (d Decision) HandoffFailed(err error) map[string]any {
	st := d.handed
	return fail(&st, "length_limit", fmt.Sprintf("the composition length limit was reached and the job could not move to a new invocation: %v", err)).Result
}

// fail ends the chain with an error dictionary that says where to resume.
// OpenWhisk keeps only the error field of an error result, so everything
// goes inside it.
func fail(st *carried, reason, cause string) Decision {
	e := map[string]any{"message": cause, "reason": reason}
	if reason == "" {
		e["reason"] = "input"
	}
	if st != nil {
		e["message"] = fmt.Sprintf("hop %d: %s; resume from generation %d with `wskx resume NAME %s`", st.Hop, cause, st.Generation, st.Key)
		e["job"] = st.Job
		e["key"] = st.Key
		e["hop"] = st.Hop
		e["attempt"] = st.Attempt
		e["generation"] = st.Generation
	}
	return Decision{Result: map[string]any{"error": e}}
}

func summary(st carried, now time.Time, replayed bool) hop.Summary {
	hops := st.Hop
	return hop.Summary{
		Job: st.Job, Key: st.Key, Hops: hops, Retries: st.Retries, Invocations: max(st.Invocation, 1),
		Generation: st.Generation, Engine: st.Engine, Replayed: replayed, Warnings: st.Warnings,
		ElapsedMS: elapsed(st, now).Milliseconds(), Totals: st.Totals, Previous: st.Previous,
	}
}

func elapsed(st carried, now time.Time) time.Duration {
	return now.Sub(time.UnixMilli(st.Started))
}

func env(p *policies.Policy, st carried, now time.Time) policies.Env {
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

func errorText(e any) string {
	switch t := e.(type) {
	case string:
		return t
	case map[string]any:
		if m, ok := t["message"].(string); ok {
			return m
		}
	}
	b, _ := json.Marshal(e)
	return string(b)
}

func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
