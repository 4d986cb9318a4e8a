package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/hop"
)

// waitPoll is how often a step that waits on another chain's holder looks
// for the job's result or the end of the holding.
const waitPoll = 500 * time.Millisecond

// admit decides whether this activation runs the job now, and as which
// hop and attempt. The store, not the request, is the truth: the job's
// record says what it was started with, and its newest holding (lease)
// says who runs it and where it stands, so that hop numbers and retry
// budgets go on across hand-overs, resumes and other invocations of the
// same key. It returns an answer when the activation must not run the job.
func (h *hopRun) admit(ctx context.Context) map[string]any {
	if out := h.checkRecord(ctx); out != nil {
		return out
	}
	var waited time.Duration
	for {
		l, held, err := h.store.Lease(ctx, h.req.Job)
		if err != nil {
			return h.failed(fmt.Sprintf("read the job's lease: %v", err), true)
		}
		if held && l.Chain != h.req.Chain && holderAlive(l, h.s.cfg.Now()) {
			// Another chain is running the job: never disturb it. Wait for
			// its result, or for its holder to die, while time allows.
			out, d := h.waitFor(ctx, l)
			waited += d
			if out != nil {
				return out
			}
			continue
		}
		listing, err := h.store.Generations(ctx, h.req.Job)
		if err != nil {
			return h.failed(fmt.Sprintf("list checkpoints: %v", err), true)
		}
		hopN, attempt := position(l, held, listing)
		h.req.Hop, h.req.Attempt = hopN, attempt
		h.rep.Hop, h.rep.Attempt = hopN, attempt
		if budget := h.p.Chain.Retries.Max + 1; attempt > budget {
			return h.failed(fmt.Sprintf("hop %d has been tried %d times and chain.retries.max is %d: the job stops here", hopN, attempt-1, h.p.Chain.Retries.Max), false)
		}
		nl := checkpoint.Lease{Token: l.Token + 1, Chain: h.req.Chain, Activation: h.act.ID,
			Deadline: h.deadline.UnixMilli(), Hop: hopN, Attempt: attempt}
		won, err := h.store.TakeLease(ctx, h.req.Job, nl)
		if err != nil {
			return h.failed(fmt.Sprintf("take the job's lease: %v", err), true)
		}
		if won {
			h.log = h.log.With("hop", hopN, "attempt", attempt)
			if held && l.Chain != h.req.Chain {
				h.log.Warn("took over a job whose holder is past its deadline", "holder", l.Activation, "token", l.Token)
			}
			h.lease, h.listing = nl, listing
			return nil
		}
		// Another activation took the same token first: look again.
	}
}

// position is the hop and attempt the next holder of a job runs: the hop
// after the holder's if that hop left a generation, else the holder's hop
// again, one attempt later.
func position(l checkpoint.Lease, held bool, listing checkpoint.Listing) (hopN, attempt int) {
	newestHop := 0
	if n := len(listing.Whole); n > 0 {
		newestHop = listing.Whole[n-1].Hop
	}
	switch {
	case !held:
		return newestHop + 1, 1
	case newestHop >= l.Hop:
		return newestHop + 1, 1
	default:
		return l.Hop, l.Attempt + 1
	}
}

// checkRecord ties the job to what it was started with: a request whose
// parameters differ from the record's is refused, so an idempotency key
// never comes to stand for another job's result.
func (h *hopRun) checkRecord(ctx context.Context) map[string]any {
	pj, err := json.Marshal(h.params)
	if err != nil {
		return h.failed(fmt.Sprintf("the parameters are not JSON: %v", err), false)
	}
	sum := sha256.Sum256(pj)
	want := hex.EncodeToString(sum[:])
	rec, err := h.store.EnsureRecord(ctx, h.req.Job, checkpoint.Record{Key: h.req.Key, ParamsSHA256: want, Params: pj, Started: h.req.Started})
	if err != nil {
		return h.failed(fmt.Sprintf("read the job's record: %v", err), true)
	}
	switch {
	case h.req.FromRecord && len(h.params) == 0:
		var params map[string]any
		if err := json.Unmarshal(rec.Params, &params); err != nil {
			return h.failed(fmt.Sprintf("the job's recorded parameters are damaged: %v", err), false)
		}
		h.params = params
	case rec.ParamsSHA256 != want:
		return h.failed(fmt.Sprintf("the idempotency key %q already names a job started with other parameters; give this one another key", rec.Key), false)
	}
	if rec.Started > 0 {
		h.req.Started = rec.Started
	}
	h.rep.Started = h.req.Started
	return nil
}

// waitFor waits while another chain's holder l runs the job. It returns
// the job's result once committed, a Waiting answer when this activation
// must end first, or nil when the holding ended or changed.
func (h *hopRun) waitFor(ctx context.Context, l checkpoint.Lease) (map[string]any, time.Duration) {
	t0 := h.s.cfg.Now()
	if h.rep.Metrics.WaitStart == 0 {
		h.rep.Metrics.WaitStart = t0.UnixMilli()
	}
	// The waiting is billed: it goes into the report before any answer.
	stop := func() time.Duration {
		d := h.s.cfg.Now().Sub(t0)
		h.rep.Metrics.WaitMS += d.Milliseconds()
		return d
	}
	h.log.Info("another chain runs the job; waiting for it", "holder", l.Activation, "token", l.Token)
	tk := time.NewTicker(waitPoll)
	defer tk.Stop()
	for {
		// Leave time to answer before the platform's deadline.
		if time.Until(h.answerBy) < 2*waitPoll {
			d := stop()
			h.rep.Status = hop.Waiting
			h.rep.Cause = fmt.Sprintf("activation %s of another invocation runs the job (hop %d)", l.Activation, l.Hop)
			return h.answer(nil), d
		}
		select {
		case <-ctx.Done():
			d := stop()
			return h.failed("the activation ended while waiting for another invocation of the job", true), d
		case <-tk.C:
		}
		if res, ok, err := h.store.Result(ctx, h.req.Job); err == nil && ok {
			d := stop()
			return h.done(res, true), d
		}
		cur, held, err := h.store.Lease(ctx, h.req.Job)
		if err != nil {
			continue // a storage hiccup: look again at the next tick
		}
		if !held || cur.Token != l.Token || !holderAlive(cur, h.s.cfg.Now()) {
			if held && cur.Token != l.Token && cur.Chain != h.req.Chain && holderAlive(cur, h.s.cfg.Now()) {
				l = cur // the other chain went on to its next hop
				continue
			}
			return nil, stop()
		}
	}
}

// baseEnvVars are the variables of the container's own environment that a
// job gets: what programs need to run, nothing that could be a secret.
var baseEnvVars = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER"}

// jobEnv is the job's whole environment before the policy's job.env: the
// base variables, the scratch folder, and OpenWhisk's activation variables
// (__OW_*) less the API key unless withKey. The rest of the container's
// environment (cloud credentials, the encryption key, init parameters)
// stays out: a DMTCP image saves the job's environment with its memory.
func jobEnv(activation map[string]string, dirs Dirs, withKey bool) map[string]string {
	env := map[string]string{}
	for _, k := range baseEnvVars {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	if env["PATH"] == "" {
		env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	env["TMPDIR"] = dirs.Tmp
	for k, v := range activation {
		if strings.HasPrefix(k, "__OW_") && (withKey || k != "__OW_API_KEY") {
			env[k] = v
		}
	}
	return env
}

// folderSafe makes an activation id usable in a folder name.
func folderSafe(id string) string {
	if id == "" {
		id = fmt.Sprintf("run%d", time.Now().UnixNano())
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
}

// exposeAPIKey says whether the job sees the activation's API key: only
// when its policy asks, since the key would be saved in every image.
func (h *hopRun) exposeAPIKey() bool { return h.p.Job.APIKey }
