package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

// answerGuard is how long before the platform's deadline a step answers:
// a step still busy then kills its job and reports, rather than being
// killed with nothing said.
const answerGuard = 250 * time.Millisecond

// StepConfig configures a Step.
type StepConfig struct {
	Policy *policies.Policy
	// Conductor is the conductor's fully qualified name (informational).
	Conductor string
	// Engine resolves the policy's engine name ("auto" included).
	Engine func(ctx context.Context, name string) (Engine, error)
	// OpenStore opens the policy's checkpoint storage for one activation.
	OpenStore func(ctx context.Context, st policies.Storage) (Store, error)
	// NewInvoker makes the REST client of the self-invoke baseline.
	NewInvoker func(apiHost, apiKey string) (composer.Invoker, error)
	// Stdout and Stderr are the container's logs; the job's streams are
	// copied there.
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Faults is WSKX_FAULT: crash points for recovery tests (fault.go).
	Faults string
	// Secret is the deployment's secret (hop.SecretEnv): reports are
	// signed with it so that the conductor can tell them from forgeries.
	Secret []byte
	// MetaTimeout bounds each small store call (metaTimeout by default).
	MetaTimeout time.Duration
	// SelfInvoke deploys the step as the original design's baseline: no
	// conductor; the step checkpoints at the deadline and invokes the next
	// hop itself, without the one-result commit, the lease or the
	// exit-during-checkpoint fix, so that duplicates can be measured. It
	// is chosen when the actions are made, never by a request.
	SelfInvoke bool
}

func (c StepConfig) storeTimeout() time.Duration {
	if c.MetaTimeout > 0 {
		return c.MetaTimeout
	}
	return metaTimeout
}

// Step is the step role: it runs one hop of a job per activation.
type Step struct {
	cfg StepConfig

	faults faults

	mu      sync.Mutex
	engines map[string]Engine // resolved once per container: DMTCP's lookup and version cost a few execs
}

// engine resolves an engine name, once per container.
func (s *Step) engine(ctx context.Context, name string) (Engine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.engines[name]; ok {
		return e, nil
	}
	e, err := s.cfg.Engine(ctx, name)
	if err != nil {
		return nil, err
	}
	if s.engines == nil {
		s.engines = map[string]Engine{}
	}
	s.engines[name] = e
	return e, nil
}

// NewStep checks cfg and returns a step.
func NewStep(cfg StepConfig) (*Step, error) {
	if cfg.Policy == nil || cfg.Engine == nil || cfg.OpenStore == nil {
		return nil, fmt.Errorf("new step: a policy, an engine resolver and a store opener are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f, err := parseFaults(cfg.Faults)
	if err != nil {
		return nil, fmt.Errorf("new step: %w", err)
	}
	return &Step{cfg: cfg, faults: f}, nil
}

// hopRun is one activation of the step.
type hopRun struct {
	s        *Step
	p        *policies.Policy
	act      Activation
	req      hop.Request
	oneShot  bool // no request: the step was invoked on its own
	params   map[string]any
	rep      hop.Report
	start    time.Time
	deadline time.Time // the platform's
	answerBy time.Time
	store    Store
	dirs     Dirs
	engine   Engine
	version  string
	newest   int              // highest generation number in use (saved or listed, damaged included)
	lease    checkpoint.Lease // this activation's holding of the job
	listing  checkpoint.Listing
	stdout   *tail
	stderr   *tail
	log      *slog.Logger
	next     string  // self-invoke: the next hop's activation id
	proc     Process // the running job, for the crash faults
	// imageAt is when the newest image this hop saved was taken; the job
	// carries on from there if it is restored. Zero: the hop's start.
	imageAt time.Time
	// stoppedAtImage says the job was stopped at its newest image (the
	// deadline checkpoint), so nothing after it is lost.
	stoppedAtImage bool
	// imageBehind is what the newest image left out of the work done
	// before it (Image.Behind).
	imageBehind time.Duration
}

// Run runs one hop. Hop failures are answered as results carrying a
// Failed report, never as errors: OpenWhisk keeps only the error field of
// an error result, and the conductor needs the report.
func (s *Step) Run(ctx context.Context, act Activation, params map[string]any) (map[string]any, error) {
	h := &hopRun{s: s, p: s.cfg.Policy, act: act, start: s.cfg.Now()}
	if err := h.parse(params); err != nil {
		return h.failed(err.Error(), false), nil
	}
	h.deadline = act.Deadline
	if h.deadline.IsZero() {
		h.deadline = h.start.Add(h.p.Job.Timeout)
	}
	h.answerBy = h.deadline.Add(-answerGuard)
	ctx, cancel := context.WithDeadline(ctx, h.answerBy)
	defer cancel()
	// The hop and attempt are added once known: admit reads them from the
	// job's lease.
	h.log = s.cfg.Logger.With("job", h.req.Job, "activation", act.ID)
	h.stdout = newTail(s.cfg.Stdout, stdoutKeep)
	h.stderr = newTail(s.cfg.Stderr, stderrKeep)
	return h.run(ctx), nil
}

// parse reads the request and the job's parameters.
func (h *hopRun) parse(params map[string]any) error {
	h.params = hop.StripReserved(params)
	req, ok, err := hop.RequestOf(params)
	if err != nil {
		return err
	}
	h.req, h.oneShot = req, !ok
	if h.req.Job == "" {
		h.req.Job = "j" + strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	if h.req.Key == "" {
		h.req.Key = h.req.Job
	}
	h.req.Hop = max(h.req.Hop, 1)
	h.req.Attempt = max(h.req.Attempt, 1)
	if h.req.Started == 0 {
		h.req.Started = h.start.UnixMilli()
	}
	h.rep = hop.Report{Job: h.req.Job, Hop: h.req.Hop, Attempt: h.req.Attempt, Engine: h.p.Job.Engine, Generation: h.req.Generation}
	h.rep.Metrics.Activation = h.act.ID
	h.rep.Metrics.Start = h.start.UnixMilli()
	if h.req.Job != filepath.Base(h.req.Job) || strings.HasPrefix(h.req.Job, ".") {
		return fmt.Errorf("job id %q cannot name a folder", h.req.Job)
	}
	return nil
}

func (h *hopRun) selfInvoke() bool { return h.s.cfg.SelfInvoke }

func (h *hopRun) run(ctx context.Context) map[string]any {
	if d := time.Duration(h.req.BackoffMS) * time.Millisecond; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return h.failed("the activation ended during the retry backoff", true)
		}
	}
	store, err := h.s.cfg.OpenStore(ctx, h.p.Storage)
	if err != nil {
		return h.failed(fmt.Sprintf("open checkpoint storage: %v", err), true)
	}
	defer store.Close()
	h.store = boundedStore{Store: store, d: h.s.cfg.storeTimeout()}

	if !h.selfInvoke() {
		// Exactly one final result per job: a hop of a finished job replays it.
		if res, ok, err := h.store.Result(ctx, h.req.Job); err != nil {
			return h.failed(fmt.Sprintf("read the job's result: %v", err), true)
		} else if ok {
			return h.done(res, true)
		}
		if out := h.admit(ctx); out != nil {
			return out
		}
	} else {
		h.log = h.log.With("hop", h.req.Hop, "attempt", h.req.Attempt)
	}

	engine, err := h.s.engine(ctx, h.p.Job.Engine)
	if err != nil {
		return h.failed(fmt.Sprintf("engine %s: %v", h.p.Job.Engine, err), false)
	}
	h.engine = engine
	h.rep.Engine = engine.Name()
	if h.version, err = engine.Version(ctx); err != nil {
		return h.failed(fmt.Sprintf("engine %s: %v", engine.Name(), err), false)
	}
	if err := h.makeDirs(); err != nil {
		return h.failed(err.Error(), true)
	}
	defer os.RemoveAll(h.dirs.Root)

	proc, out := h.launch(ctx)
	if out != nil {
		return out
	}
	h.proc = proc
	defer h.stop(proc)
	return h.supervise(ctx, proc)
}

// makeDirs wipes and creates the job's folders: the same absolute paths
// in every container for an engine that needs them (only the lease holder
// is here), a folder of this activation's own otherwise.
func (h *hopRun) makeDirs() error {
	root := filepath.Join(h.p.Job.Dir, h.req.Job)
	if fp, ok := h.engine.(fixedPaths); !ok || !fp.FixedPaths() {
		root += "." + folderSafe(h.act.ID)
	}
	h.dirs = Dirs{Root: root, Work: filepath.Join(root, "work"), Ckpt: filepath.Join(root, "ckpt"),
		Tmp: filepath.Join(root, "tmp"), State: filepath.Join(root, "state")}
	if err := os.RemoveAll(root); err != nil {
		return fmt.Errorf("wipe job dir: %w", err)
	}
	for _, d := range []string{h.dirs.Work, h.dirs.Ckpt, h.dirs.Tmp, h.dirs.State} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("make job dir: %w", err)
		}
	}
	return nil
}

// env is what the policy's expressions see this hop.
func (h *hopRun) env() policies.Env {
	el := h.start.Sub(time.UnixMilli(h.req.Started))
	return policies.Env{
		Hop: h.req.Hop, Attempt: h.req.Attempt, Elapsed: el, Remaining: h.p.Chain.MaxDuration - el,
		Timeout: h.p.Job.Timeout, Params: h.params, Last: composer.LastHop(h.req.Last),
	}
}

// spec is the job as it runs this hop.
func (h *hopRun) spec() (JobSpec, error) {
	argv, err := h.p.Argv(h.env())
	if err != nil {
		return JobSpec{}, err
	}
	env := jobEnv(h.act.Env, h.dirs, h.exposeAPIKey())
	maps.Copy(env, h.p.Job.Env)
	merged := maps.Clone(h.p.Params)
	if merged == nil {
		merged = map[string]any{}
	}
	maps.Copy(merged, h.params)
	// The parameters go in a file: an environment variable is limited to
	// 128 KB and parameters may reach 1 MB.
	pj, _ := json.Marshal(merged)
	pf := filepath.Join(h.dirs.Tmp, "params.json")
	if err := os.WriteFile(pf, append(pj, '\n'), 0o644); err != nil {
		return JobSpec{}, fmt.Errorf("write the parameters: %w", err)
	}
	env["WSKX_PARAMS_FILE"] = pf
	env["WSKX_JOB"] = h.req.Job
	env["WSKX_HOP"] = strconv.Itoa(h.req.Hop)
	env["WSKX_ATTEMPT"] = strconv.Itoa(h.req.Attempt)
	return JobSpec{Argv: argv, Env: env, Stdout: h.stdout, Stderr: h.stderr}, nil
}

// start restores the newest whole generation and starts the job from it,
// or starts it fresh when there is none.
func (h *hopRun) launch(ctx context.Context) (Process, map[string]any) {
	spec, err := h.spec()
	if err != nil {
		return nil, h.failed(fmt.Sprintf("prepare the job: %v", err), false)
	}
	if h.selfInvoke() {
		// The baseline has no admit step, which lists the generations.
		l, err := h.store.Generations(ctx, h.req.Job)
		if err != nil {
			return nil, h.failed(fmt.Sprintf("list checkpoints: %v", err), true)
		}
		h.listing = l
	}
	whole := h.listing.Whole
	// Saves go above every number in use: a generation whose manifest is
	// damaged still holds its number, and reusing it would fail for ever.
	h.newest = max(h.newest, h.listing.Highest())
	restore := len(whole) > 0
	if restore {
		newest := whole[len(whole)-1].Generation
		t0 := time.Now()
		gen, err := h.store.Restore(ctx, h.req.Job, 0, h.dirs.Root, h.engine.Name())
		h.rep.Metrics.DownloadMS = time.Since(t0).Milliseconds()
		if err != nil {
			return nil, h.failed(fmt.Sprintf("restore generation %d: %v", newest, err), true)
		}
		if gen != newest {
			h.warn(fmt.Sprintf("generation %d could not be restored (see the step's log); restored generation %d", newest, gen))
		}
		h.rep.Generation = gen
		h.rep.Restored = gen
	} else if h.req.Generation > 0 && len(h.listing.Damaged) == 0 {
		return nil, h.failed(fmt.Sprintf("generation %d is not in the checkpoint storage", h.req.Generation), false)
	}
	if d := h.listing.Damaged; len(d) > 0 && (len(whole) == 0 || d[len(d)-1] > whole[len(whole)-1].Generation) {
		// Reported by the hop that finds it; the next save goes above it and
		// the prune after that removes it, so no later hop sees it again.
		what := "the job starts again from the beginning"
		if restore {
			what = fmt.Sprintf("generation %d was restored instead", h.rep.Restored)
		}
		h.warn(fmt.Sprintf("the manifest of generation %d is unreadable; %s", d[len(d)-1], what))
	}
	t0 := time.Now()
	proc, err := h.engine.Start(ctx, spec, h.dirs, restore)
	if restore {
		h.rep.Metrics.RestoreMS = time.Since(t0).Milliseconds()
	}
	if err != nil {
		what := "start the job"
		if restore {
			what = fmt.Sprintf("restart the job from generation %d", h.rep.Generation)
		}
		return nil, h.failed(fmt.Sprintf("%s: %v", what, err), true)
	}
	h.log.Info("job started", "restore", restore, "generation", h.rep.Generation, "engine", h.engine.Name())
	return proc, nil
}

// stop kills the job and its helpers and waits briefly for its streams,
// so that nothing it printed lands after the activation's sentinel.
func (h *hopRun) stop(proc Process) {
	proc.Kill()
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-proc.Done():
	case <-t.C:
		h.log.Warn("the job did not report its end after being killed")
	}
}

// answer finishes the report and builds the result around it.
func (h *hopRun) answer(out map[string]any) map[string]any {
	now := h.s.cfg.Now()
	h.rep.Metrics.End = now.UnixMilli()
	h.rep.Metrics.LostMS = h.lostMS(now)
	if out == nil {
		out = map[string]any{}
	}
	if h.next != "" {
		out[hop.NextKey] = h.next
	}
	if len(h.s.cfg.Secret) > 0 {
		if err := h.rep.Sign(h.s.cfg.Secret, out); err != nil {
			// Only a value JSON cannot carry gets here; the conductor then
			// refuses the unsigned report and retries.
			h.log.Error("sign report", "err", err)
		}
	}
	return hop.WithReport(out, h.rep)
}

// warn records damage found in storage and worked around, in the log and
// in the report.
func (h *hopRun) warn(msg string) {
	h.log.Warn(msg)
	h.rep.Warnings = append(h.rep.Warnings, msg)
}

// lostMS is the work done after the newest image, which a later hop redoes:
// none when the job finished here and nothing carries on, or when it was
// stopped at the image.
func (h *hopRun) lostMS(now time.Time) int64 {
	if h.proc == nil || (h.rep.Status == hop.Done && h.next == "") {
		return 0
	}
	if h.stoppedAtImage {
		// Stopped at its image: lost only what the image left behind.
		return h.imageBehind.Milliseconds()
	}
	from := h.imageAt
	if from.IsZero() {
		from = h.proc.Started()
	}
	return max(0, now.Sub(from).Milliseconds())
}

// failed reports a failed hop. An invocation of the step on its own (no
// request) has no conductor to read a report, so there the failure is an
// application error carrying the report inside its error field.
func (h *hopRun) failed(cause string, retryable bool) map[string]any {
	h.rep.Status = hop.Failed
	h.rep.Cause = cause
	h.rep.Retryable = retryable
	if h.log != nil {
		h.log.Warn("hop failed", "cause", cause, "retryable", retryable)
	}
	if h.oneShot {
		h.answer(nil)
		return hop.ErrorWithReport(cause, h.rep)
	}
	return h.answer(nil)
}

// done reports the job's final result, read back when replayed.
func (h *hopRun) done(result []byte, replayed bool) map[string]any {
	var out map[string]any
	if err := json.Unmarshal(result, &out); err != nil || out == nil {
		return h.failed(fmt.Sprintf("the stored result is not a JSON object: %v", err), false)
	}
	h.rep.Status = hop.Done
	h.rep.Replayed = replayed
	return h.answer(out)
}
