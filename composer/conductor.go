package composer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
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
}

// Decide is the conductor's decision logic. input is the conductor run's
// input as the controller builds it: the invocation's parameters on the
// first run, afterwards the step's result with the carried state laid over
// it. step is the step action's fully qualified name; newKey makes an
// idempotency key when the policy gives none.
//
// The rules, in order:
//   - first run (no state, or a handed-off state): start at hop 1, or at
//     the handed-off hop, attempt 1;
//   - the step finished: end with the job's output and a chain summary;
//   - the step checkpointed: check max_hops, max_duration, continue and
//     the length limit, then ask for the next hop from the new generation;
//   - the step failed (or the platform failed it, which leaves only an
//     error): retry from the newest whole generation while retries last;
//   - anything else ends the chain with an error naming the hop, the cause
//     and the generation to resume from.
func Decide(p *policies.Policy, step string, input map[string]any, now time.Time, newKey func() string) Decision {
	st, mid, err := readState(input)
	if err != nil {
		return fail(nil, "", err.Error())
	}
	if !mid {
		return first(p, step, input, st, now, newKey)
	}
	report, hasReport, err := readReport(input)
	if err != nil {
		return failed(p, step, st, now, "the step returned an unreadable report: "+err.Error(), true)
	}
	if !hasReport {
		// The platform ended the step (timeout, crash, bad result): OpenWhisk
		// hands the conductor only the error.
		cause := "the step returned no report"
		if e, ok := input["error"]; ok {
			cause = errorText(e)
		}
		return failed(p, step, st, now, cause, true)
	}
	st.Engine = report.Engine
	switch report.Status {
	case hop.Done:
		st.Totals = st.Totals.Add(report.Metrics)
		st.Last = report.Metrics
		if report.Generation > st.Generation {
			st.Generation = report.Generation
		}
		out := jobOutput(input)
		out[hop.StateKey] = summary(st, now, report.Replayed)
		return Decision{Result: map[string]any{"params": out}}
	case hop.Checkpointed:
		st.Totals = st.Totals.Add(report.Metrics)
		st.Last = report.Metrics
		if report.Generation > st.Generation {
			st.Generation = report.Generation
		}
		st.Hop++
		st.Attempt = 1
		return next(p, step, st, now)
	case hop.Failed:
		st.Totals = st.Totals.Add(report.Metrics)
		if report.Generation > st.Generation {
			st.Generation = report.Generation
		}
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
		return failed(p, step, st, now, cause, report.Retryable)
	default:
		return failed(p, step, st, now, fmt.Sprintf("the step reported an unknown status %q", report.Status), true)
	}
}

// carried is the conductor's state with the fields only Decide uses.
type carried struct {
	hop.State
	Engine string `json:"engine,omitempty"`
}

// readState finds the carried state. mid is true when this run follows a
// component of this invocation; a state with no components used is a
// job handed over from an earlier invocation (or resumed by hand).
func readState(input map[string]any) (carried, bool, error) {
	var st carried
	raw, ok := input[hop.StateKey]
	if !ok {
		return st, false, nil
	}
	if err := remarshal(raw, &st); err != nil {
		return st, false, fmt.Errorf("the %s parameter is not a chain state: %v", hop.StateKey, err)
	}
	return st, st.Components > 0, nil
}

func readReport(input map[string]any) (hop.Report, bool, error) {
	var r hop.Report
	raw, ok := input[hop.StepKey]
	if !ok {
		return r, false, nil
	}
	if err := remarshal(raw, &r); err != nil {
		return r, true, err
	}
	return r, true, nil
}

// first starts an invocation: a new job, or one handed over.
func first(p *policies.Policy, step string, input map[string]any, st carried, now time.Time, newKey func() string) Decision {
	if _, ok := input[hop.StepKey]; ok {
		return fail(nil, "", fmt.Sprintf("%s is a reserved parameter name", hop.StepKey))
	}
	if st.Key == "" {
		// A new job: its parameters are the invocation's.
		params := jobOutput(input)
		key, err := p.IdempotencyKey(policies.Env{Hop: 1, Attempt: 1, Timeout: p.Job.Timeout, Params: params})
		if err != nil {
			return fail(nil, "", err.Error())
		}
		if key == "" {
			key = newKey()
		}
		st = carried{State: hop.State{Key: key, Hop: 1, Params: params, Started: now.UnixMilli(), Invocation: 1}}
	} else {
		// Handed over or resumed: keep the job's history, count a new invocation.
		if st.Hop < 1 {
			st.Hop = 1
		}
		if st.Started == 0 {
			st.Started = now.UnixMilli()
		}
		if st.Params == nil {
			st.Params = jobOutput(input)
		}
		st.Invocation++
	}
	st.Job = JobID(p.Name, st.Key)
	st.Attempt = 1
	st.Components = 0
	return call(p, step, st, 0)
}

// next asks for the next hop after a checkpoint, if the policy allows.
func next(p *policies.Policy, step string, st carried, now time.Time) Decision {
	if st.Hop > p.Chain.MaxHops {
		return fail(&st, "max_hops", fmt.Sprintf("the job needs more than max_hops (%d) hops", p.Chain.MaxHops))
	}
	if el := elapsed(st, now); el >= p.Chain.MaxDuration {
		return fail(&st, "max_duration", fmt.Sprintf("the job ran for %s, past max_duration (%s)", el.Round(time.Millisecond), p.Chain.MaxDuration))
	}
	ok, err := p.Continue(env(p, st, now))
	if err != nil {
		return fail(&st, "continue", err.Error())
	}
	if !ok {
		return fail(&st, "continue", fmt.Sprintf("the continue condition %q is false", p.Chain.Continue))
	}
	return call(p, step, st, 0)
}

// failed retries a failed hop from the newest whole generation, or ends.
func failed(p *policies.Policy, step string, st carried, now time.Time, cause string, retryable bool) Decision {
	if !retryable {
		return fail(&st, "failed", cause)
	}
	if st.Attempt > p.Chain.Retries.Max {
		return fail(&st, "retries", fmt.Sprintf("%s (after %d attempts)", cause, st.Attempt))
	}
	if el := elapsed(st, now); el >= p.Chain.MaxDuration {
		return fail(&st, "max_duration", fmt.Sprintf("%s, and the job is past max_duration (%s)", cause, p.Chain.MaxDuration))
	}
	st.Attempt++
	st.Retries++
	backoff := p.Chain.Retries.Backoff << (st.Attempt - 2)
	if backoff > p.Chain.Retries.MaxBackoff || backoff <= 0 {
		backoff = p.Chain.Retries.MaxBackoff
	}
	return call(p, step, st, backoff)
}

// call returns the continuation that runs the step, or hands the job to a
// new invocation when the next component would pass the length limit.
func call(p *policies.Policy, step string, st carried, backoff time.Duration) Decision {
	if st.Components+1 > p.Chain.LengthLimit {
		if p.Chain.OnLengthLimit == policies.OnLimitFail {
			return fail(&st, "length_limit", fmt.Sprintf("the next hop would pass the composition length limit (%d components)", p.Chain.LengthLimit))
		}
		handed := st
		handed.Components = 0
		return Decision{Handoff: map[string]any{hop.StateKey: handed}, Result: nil}
	}
	req := hop.Request{
		Job: st.Job, Key: st.Key, Hop: st.Hop, Attempt: st.Attempt, Generation: st.Generation,
		Started: st.Started, BackoffMS: backoff.Milliseconds(), Last: st.Last,
	}
	params := maps.Clone(st.Params)
	if params == nil {
		params = map[string]any{}
	}
	params[hop.StepKey] = req
	// Count the component about to run, as the controller does; a count
	// above zero also tells the next run that it follows a component.
	st.Components++
	return Decision{Result: map[string]any{
		"action": step,
		"params": params,
		"state":  map[string]any{hop.StateKey: st},
	}}
}

// HandoffResult ends an invocation whose job went on in another one.
func HandoffResult(handoff map[string]any, next string, now time.Time) map[string]any {
	var st carried
	_ = remarshal(handoff[hop.StateKey], &st)
	s := summary(st, now, false)
	s.Continued = next
	return map[string]any{"params": map[string]any{hop.StateKey: s}}
}

// HandoffFailed ends an invocation whose job could not be handed to a new
// one, saying where to resume it.
func HandoffFailed(handoff map[string]any, err error) map[string]any {
	var st carried
	_ = remarshal(handoff[hop.StateKey], &st)
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
		e["message"] = fmt.Sprintf("hop %d: %s; resume from generation %d with `wskx resume %s`", st.Hop, cause, st.Generation, st.Key)
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
		Generation: st.Generation, Engine: st.Engine, Replayed: replayed,
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

// jobOutput is the input without wskx's reserved keys.
func jobOutput(input map[string]any) map[string]any {
	out := make(map[string]any, len(input))
	for k, v := range input {
		if k != hop.StateKey && k != hop.StepKey {
			out[k] = v
		}
	}
	return out
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
