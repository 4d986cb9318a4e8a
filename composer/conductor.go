package composer

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/program"
)

// Decision is what one conductor run concludes.
type Decision struct {
	// Result is the conductor run's result: a continuation
	// {action, params, state}, a final {params}, or an error dictionary.
	Result map[string]any
	// Handoff, when set, is the input of a new invocation of the conductor
	// that carries the workflow on past the composition length limit. The
	// caller invokes it and then ends this invocation with HandoffResult.
	Handoff map[string]any
	// Fork is a fan-out to carry out, and Commit a branch's value to
	// commit to its join (beside Result, the branch's own result).
	Fork   *Fork
	Commit *Commit
	handed carried
	single bool
}

// Env is what Decide needs besides its input: the compiled workflow, the
// deployment's secret, the clock, a source of fresh ids (idempotency keys
// and chain ids) and the id of the activation deciding.
type Env struct {
	Flow       *Flow
	Secret     []byte
	Now        time.Time
	NewID      func() string
	Activation string
}

// Decide is the conductor's decision logic: one transition of the
// workflow's program per conductor run. input is the run's input as the
// controller builds it: the invocation's parameters on the first run,
// afterwards the last component's result with the carried state laid over
// it. The carried state and the steps' reports are authenticated with the
// deployment's secret; anything that does not verify is refused.
//
// A run starts the workflow (or goes on with a handed-over one, budgets
// and hop numbers kept), or takes the last component's result: an
// action's result goes to the program; a step's report goes to its job's
// chain (jobDecide), which asks for the next hop or ends the job with its
// output or an error, which then goes to the program. The program runs on
// to its next action or job, or to its end.
func Decide(e Env, input map[string]any) Decision {
	st, ph, err := readState(e, input)
	if err != nil {
		return fail(nil, "state", err.Error())
	}
	switch ph {
	case phaseFirst:
		return first(e, input)
	case phaseBranch:
		ev, err := e.Flow.machine.Enter(&st.Machine, hop.StripReserved(input))
		return drive(e, st, ev, err)
	case phaseHandoff:
		st.Invocation++
		st.Components = 0
		p := st.Pending
		st.Pending = nil
		if p == nil {
			return fail(nil, "state", "the handed-over state has no component to run")
		}
		if p.Joined != nil || p.Await != nil {
			return goOn(e, st, *p)
		}
		if p.Action != "" {
			return emit(e, st, p.Action, p.Params, *p)
		}
		if st.Job == nil {
			return fail(nil, "state", "the handed-over state has no job to go on with")
		}
		return call(e, st, time.Duration(p.WaitMS)*time.Millisecond)
	}
	if st.Pending != nil && refused(input) {
		// The platform refused the component: an outer composition's count
		// reached the limit first. It did not run; a new invocation of its
		// own runs it.
		return handOver(e, st, *st.Pending)
	}
	if st.Job != nil {
		return jobDecide(e, st, input)
	}
	ev, err := e.Flow.machine.Resume(&st.Machine, hop.StripReserved(input))
	return drive(e, st, ev, err)
}

// carried is the conductor's state, sealed into every continuation: where
// the program stands, the running job's chain, and what the workflow has
// used so far. Never checkpoint bytes.
type carried struct {
	Key        string        `json:"key"`   // the workflow's idempotency key
	Chain      string        `json:"chain"` // this workflow instance's id, kept across hand-overs
	Started    int64         `json:"started"`
	Invocation int           `json:"invocation"` // 1 + number of hand-overs
	Components int           `json:"components"` // component activations used in this invocation
	Total      int           `json:"total"`      // and in all invocations
	FromRecord bool          `json:"from_record,omitempty"`
	Previous   []string      `json:"previous,omitempty"` // ids of earlier invocations
	Machine    program.State `json:"machine"`
	Job        *jobState     `json:"job,omitempty"`  // the job whose step is running
	Done       []hop.Summary `json:"done,omitempty"` // the jobs that ended, in order
	Warnings   []string      `json:"warnings,omitempty"`
	// Pending is the component a hand-over leaves to the next invocation.
	Pending *pending `json:"pending,omitempty"`
	// Branch says which fan-out's branch this invocation runs; Waiting,
	// which fan-out a parent waits for; WaitMS, the billed wait so far.
	Branch  *branchOf `json:"branch,omitempty"`
	Waiting *forkRef  `json:"waiting,omitempty"`
	WaitMS  int64     `json:"wait_ms,omitempty"`
	// Issued is when the state was sealed (epoch ms): a sealed state is
	// good for as long as the controller can take to bring it back, so an
	// old one taken from a record and replayed is refused.
	Issued int64 `json:"issued"`
}

// pending is a component not yet run: an action, or the running job's
// step after a wait.
type pending struct {
	Action string         `json:"action,omitempty"`
	Params map[string]any `json:"params,omitempty"`
	WaitMS int64          `json:"wait_ms,omitempty"`
	// Joined are a fan-out's branch values to go on with; Await, a wait
	// for them to go on with.
	Joined []map[string]any `json:"joined,omitempty"`
	Await  *awaitJoin       `json:"await,omitempty"`
}

// How long a sealed state is good for. A continuation comes back once its
// component ends (Flow.inFlight). A hand-over is invoked at once; an hour
// covers a loaded platform's queue.
const (
	stateSlack = 2 * time.Minute
	handoffAge = time.Hour
	clockSkew  = time.Minute
)

type phase int

const (
	phaseFirst   phase = iota // a new invocation of a workflow
	phaseMid                  // after a component of this invocation
	phaseHandoff              // a workflow handed over from another invocation
	phaseBranch               // a fan-out's branch
)

// readState finds and verifies the carried state.
func readState(e Env, input map[string]any) (carried, phase, error) {
	var st carried
	raw, ok := input[hop.StateKey]
	if !ok {
		return st, phaseFirst, nil
	}
	if hop.IsSummary(raw) {
		// The summary of an earlier wskx workflow whose result is this
		// invocation's input (a sequence of two): not a state.
		return st, phaseFirst, nil
	}
	ph := phaseFirst
	if err := hop.Open(e.Secret, hop.PurposeState, raw, &st); err == nil {
		ph = phaseMid
	} else if err := hop.Open(e.Secret, hop.PurposeHandoff, raw, &st); err == nil {
		ph = phaseHandoff
	} else if err := hop.Open(e.Secret, hop.PurposeBranch, raw, &st); err == nil {
		ph = phaseBranch
	}
	if ph != phaseFirst {
		limit := handoffAge
		if ph == phaseMid {
			limit = e.Flow.inFlight(st)
		}
		issued := time.UnixMilli(st.Issued)
		if age := e.Now.Sub(issued); age > limit || age < -clockSkew {
			return st, phaseFirst, fmt.Errorf("the %s state was sealed at %s, too long ago to be in flight: it is replayed, not carried; "+
				"to go on, invoke the conductor with its parameters again, or use `wskx resume NAME %s`", hop.StateKey, issued.UTC().Format(time.RFC3339), st.Key)
		}
		return st, ph, nil
	}
	return st, phaseFirst, fmt.Errorf("the %s parameter is not a state this deployment wrote (forged, altered, cut short or sealed with another key); "+
		"to go on with a workflow, invoke the conductor with its parameters again, or use `wskx resume NAME KEY`", hop.StateKey)
}

// maxKey bounds an idempotency key named by a caller.
const maxKey = 1024

// first starts a workflow instance: a new one, or one named by its key (a
// second invocation, or wskx resume).
func first(e Env, input map[string]any) Decision {
	if _, ok := input[hop.StepKey]; ok {
		return fail(nil, "", fmt.Sprintf("%s is a reserved parameter name", hop.StepKey))
	}
	f := e.Flow
	params := hop.StripReserved(input)
	key, err := f.keyOf(params)
	if err != nil {
		return fail(nil, "", err.Error())
	}
	fromRecord := false
	if raw, ok := input[hop.ResumeKey]; ok {
		named, isString := raw.(string)
		if !isString || named == "" || len(named) > maxKey {
			return fail(nil, "", fmt.Sprintf("%s must be an idempotency key (a string of 1 to %d characters)", hop.ResumeKey, maxKey))
		}
		if key != "" && len(params) > 0 && key != named {
			return fail(nil, "", fmt.Sprintf("the key %q does not match the parameters: the idempotency key for them is %q", named, key))
		}
		if len(params) == 0 && !f.Single {
			return fail(nil, "", "a workflow resumes with the parameters it was invoked with: give them with the key (wskx resume NAME KEY -p ...)")
		}
		key, fromRecord = named, len(params) == 0
	}
	if key == "" {
		key = e.NewID()
	}
	if !f.Single {
		// A workflow's defaults are its input's; a single job's policy lays
		// its own under every hop.
		merged := maps.Clone(f.Params)
		if merged == nil {
			merged = map[string]any{}
		}
		maps.Copy(merged, params)
		params = merged
	}
	st := carried{Key: key, Chain: e.NewID(), Started: e.Now.UnixMilli(), Invocation: 1, FromRecord: fromRecord}
	ev, err := f.machine.Start(&st.Machine, params)
	return drive(e, st, ev, err)
}

// drive runs the program's event: an action to call, a job to start, or
// the end of the workflow.
func drive(e Env, st carried, ev program.Event, err error) Decision {
	for {
		if err != nil {
			return fail(nil, "program", fmt.Sprintf("internal error: %v", err))
		}
		switch ev.Kind {
		case program.Call:
			params := ev.Params
			if params == nil {
				params = map[string]any{}
			}
			return emit(e, st, ev.Action, params, pending{Action: ev.Action, Params: params})
		case program.Fork:
			return fork(e, st, ev)
		case program.RunJob:
			job, value := startJob(e, st, ev)
			if value == nil {
				st.Job = job
				return call(e, st, 0)
			}
			ev, err = e.Flow.machine.Resume(&st.Machine, value)
		default:
			return finish(e, st, ev.Params)
		}
	}
}

// startJob begins the chain of a job node, or says why it cannot (an
// error value for the program).
func startJob(e Env, st carried, ev program.Event) (*jobState, map[string]any) {
	f := e.Flow
	if ev.Job < 0 || ev.Job >= len(f.jobs) {
		return nil, errorValue("program", fmt.Sprintf("no job %d in the program", ev.Job))
	}
	j := f.jobs[ev.Job]
	params := hop.StripReserved(ev.Params)
	key, id := st.Key, JobID(f.Name, st.Key)
	if !f.Single {
		// A job's key is its own expression's where it has one (the same
		// input is the same job, in any workflow), else the workflow's, its
		// place and how many times the workflow came to it.
		own, err := j.policy.IdempotencyKey(env(j.policy, hop.State{Hop: 1, Attempt: 1, Params: params}, e.Now))
		if err != nil {
			return nil, errorValue("input", fmt.Sprintf("%s: %v", j.path, err))
		}
		key = own
		if key == "" {
			key = st.Key + "/" + j.path + "#" + strconv.Itoa(ev.Visit)
		}
		id = JobID(f.Name+"/"+j.policy.Name, key)
	}
	return &jobState{
		State: hop.State{Job: id, Key: key, Chain: st.Chain, Hop: 1, Attempt: 1, Params: params,
			Started: e.Now.UnixMilli(), FromRecord: st.FromRecord && f.Single},
		Node: ev.Job,
	}, nil
}

// endJob hands a job's output or error to the program.
func endJob(e Env, st carried, value map[string]any, s *hop.Summary) Decision {
	if s != nil {
		st.Done = append(st.Done, *s)
	}
	for _, w := range st.Job.Warnings {
		if !slices.Contains(st.Warnings, w) {
			st.Warnings = append(st.Warnings, w)
		}
	}
	st.Job = nil
	ev, err := e.Flow.machine.Resume(&st.Machine, value)
	return drive(e, st, ev, err)
}

// finish ends the workflow: an error value is the conductor's error
// result, as composer's conductor ends; anything else is the result, with
// the workflow's account beside it.
func finish(e Env, st carried, value map[string]any) Decision {
	if st.Branch != nil {
		return branchEnd(e, st, value)
	}
	return Decision{Result: finishResult(e, st, value)}
}

func finishResult(e Env, st carried, value map[string]any) map[string]any {
	if errv, failed := value["error"]; failed {
		return map[string]any{"error": errv}
	}
	out := hop.StripReserved(value)
	out[hop.StateKey] = account(e, st)
	return map[string]any{"params": out}
}

// emit returns the continuation that runs a component, or hands the
// workflow to a new invocation when the component would pass the length
// limit.
func emit(e Env, st carried, action string, params map[string]any, next pending) Decision {
	f := e.Flow
	if st.Components+1 > f.LengthLimit {
		msg := fmt.Sprintf("the next component would pass the composition length limit (%d components)", f.LengthLimit)
		if f.OnLengthLimit == "fail" {
			if st.Job != nil {
				return fail(st.Job, "length_limit", msg)
			}
			return Decision{Result: map[string]any{"error": errorValue("length_limit", msg)["error"]}}
		}
		return handOver(e, st, next)
	}
	// Count the component about to run, as the controller does; keep it,
	// in case the platform refuses it.
	st.Components++
	st.Total++
	st.Pending = &next
	st.Issued = e.Now.UnixMilli()
	token, err := hop.Seal(e.Secret, hop.PurposeState, st)
	if err != nil {
		return fail(st.Job, "state", err.Error())
	}
	return Decision{Result: map[string]any{
		"action": action,
		"params": params,
		"state":  map[string]any{hop.StateKey: token},
	}}
}

// handOver moves the workflow to a new invocation, which starts with the
// component next.
func handOver(e Env, st carried, next pending) Decision {
	handed := st
	handed.Components = 0
	handed.Pending = &next
	handed.Issued = e.Now.UnixMilli()
	if e.Activation != "" {
		handed.Previous = append(slices.Clone(st.Previous), e.Activation)
	}
	token, err := hop.Seal(e.Secret, hop.PurposeHandoff, handed)
	if err != nil {
		return fail(st.Job, "length_limit", err.Error())
	}
	return Decision{Handoff: map[string]any{hop.StateKey: token}, handed: handed, single: e.Flow.Single}
}

// compositionTooLong is OpenWhisk's answer, in place of a component's
// result, when running it would pass the composition limit (the
// controller's compositionIsTooLong, PrimitiveActions.scala).
const compositionTooLong = "Too many actions in the composition."

// refused says whether a component's result is the controller refusing
// to run it.
func refused(input map[string]any) bool {
	e, ok := input["error"].(string)
	return ok && e == compositionTooLong && !hasReport(input)
}

func hasReport(input map[string]any) bool {
	_, ok := input[hop.StepKey]
	return ok
}

// HandoffResult ends an invocation whose workflow went on in another one.
func (d Decision) HandoffResult(next string, now time.Time) map[string]any {
	s := accountOf(d.handed, now, d.single)
	s.Continued = next
	return map[string]any{"params": map[string]any{hop.StateKey: s}}
}

// HandoffFailed ends an invocation whose workflow could not be handed to
// a new one, saying how to resume it.
func (d Decision) HandoffFailed(err error) map[string]any {
	msg := fmt.Sprintf("the composition length limit was reached and the workflow could not move to a new invocation: %v", err)
	if d.handed.Job != nil {
		return fail(d.handed.Job, "length_limit", msg).Result
	}
	return map[string]any{"error": errorValue("length_limit", msg+"; invoke the conductor with its parameters again")["error"]}
}

// account is the workflow's summary at its end.
func account(e Env, st carried) hop.Summary { return accountOf(st, e.Now, e.Flow.Single) }

// accountOf sums up a workflow: a single job's own summary, or the
// workflow's with each job's.
func accountOf(st carried, now time.Time, single bool) hop.Summary {
	var s hop.Summary
	if single {
		if st.Job != nil {
			// Handed over mid-job: the job's account so far.
			s = summary(*st.Job, now, false)
		} else if n := len(st.Done); n > 0 {
			s = st.Done[n-1]
		}
	} else {
		jobs := slices.Clone(st.Done)
		if st.Job != nil {
			jobs = append(jobs, summary(*st.Job, now, false))
		}
		s = hop.Summary{Key: st.Key, Workflow: st.Key, Jobs: jobs}
		for _, j := range jobs {
			s.Hops += j.Hops
			s.Retries += j.Retries
			s.Totals = s.Totals.Add(j.Totals)
			s.Engine = j.Engine
		}
	}
	s.Invocations = max(st.Invocation, 1)
	s.Previous = st.Previous
	s.ElapsedMS = now.Sub(time.UnixMilli(st.Started)).Milliseconds()
	s.Components = st.Total
	s.WaitMS = st.WaitMS
	if len(st.Warnings) > 0 || (st.Job != nil && len(st.Job.Warnings) > 0) {
		s.Warnings = slices.Clone(st.Warnings)
		if st.Job != nil {
			for _, w := range st.Job.Warnings {
				if !slices.Contains(s.Warnings, w) {
					s.Warnings = append(s.Warnings, w)
				}
			}
		}
	}
	return s
}

// errorValue is an error the program sees as a component's error result.
func errorValue(reason, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"message": msg, "reason": reason}}
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

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
