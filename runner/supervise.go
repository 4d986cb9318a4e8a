package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/wskx/wskx/hop"
)

// supervise waits for the job's exit, taking interval checkpoints and the
// deadline checkpoint as the policy says.
func (h *hopRun) supervise(ctx context.Context, proc Process) map[string]any {
	var deadlineC, stopC <-chan time.Time
	if h.p.Checkpoint.Deadline != nil {
		margin, err := h.p.Margin(h.env())
		if err != nil {
			return h.failed(err.Error(), false)
		}
		at := h.deadline.Add(-margin)
		if at.After(h.answerBy) {
			at = h.answerBy
		}
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		deadlineC = t.C
		if h.fault(FaultWork) && h.p.Checkpoint.Interval == nil {
			defer h.crashAfter(time.Until(at)/2, FaultWork, proc)()
		}
	} else {
		// Nothing ends the hop but the job: stop it just before the
		// platform would, so that the hop can still say what happened.
		t := time.NewTimer(time.Until(h.answerBy))
		defer t.Stop()
		stopC = t.C
	}
	var intervalC <-chan time.Time
	if iv := h.p.Checkpoint.Interval; iv != nil && iv.Period > 0 {
		tk := time.NewTicker(iv.Period)
		defer tk.Stop()
		intervalC = tk.C
	}
	saved := 0 // generations saved by this hop
	for {
		select {
		case <-proc.Done():
			return h.exited(ctx, proc)

		case <-intervalC:
			gen, err := h.checkpoint(ctx, proc, false)
			switch {
			case errors.Is(err, ErrExited):
				return h.exited(ctx, proc)
			case err != nil:
				// The job may still be fine; the next interval or the
				// deadline checkpoint tries again.
				h.log.Warn("interval checkpoint failed", "err", err)
			default:
				saved++
				h.log.Info("interval checkpoint saved", "generation", gen)
				if saved == 1 && h.fault(FaultWork) {
					// Mid-work with something to lose: after this hop's
					// first checkpoint, halfway to the next.
					defer h.crashAfter(h.p.Checkpoint.Interval.Period/2, FaultWork, proc)()
				}
			}

		case <-deadlineC:
			if h.selfInvoke() {
				return h.selfInvokeEnd(ctx, proc)
			}
			gen, err := h.checkpoint(ctx, proc, true)
			switch {
			case errors.Is(err, ErrExited):
				return h.exited(ctx, proc)
			case err != nil:
				return h.failed(fmt.Sprintf("deadline checkpoint: %v", err), true)
			}
			h.rep.Status = hop.Checkpointed
			h.rep.Generation = gen
			h.stoppedAtImage = true
			return h.answer(nil)

		case <-stopC:
			return h.stopAtLimit(proc, saved)

		case <-ctx.Done():
			if stopC != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// The stop timer and the context end at the same instant.
				return h.stopAtLimit(proc, saved)
			}
			return h.failed(fmt.Sprintf("the activation ended before the job: %v", context.Cause(ctx)), true)
		}
	}
}

// stopAtLimit ends a hop with no deadline checkpoint at the answer time.
func (h *hopRun) stopAtLimit(proc Process, saved int) map[string]any {
	proc.Kill()
	h.rep.Metrics.WorkMS = time.Since(proc.Started()).Milliseconds()
	if saved > 0 {
		// Interval checkpoints only: the hop ends at the newest one.
		h.rep.Status = hop.Checkpointed
		h.rep.Generation = h.newest
		return h.answer(nil)
	}
	if h.engine.Name() == "none" {
		return h.failed(fmt.Sprintf("the job did not finish within the action's time limit (%s), and engine none cannot checkpoint it", h.p.Job.Timeout), false)
	}
	return h.failed(fmt.Sprintf("the job did not finish within the action's time limit (%s) and no checkpoint was made", h.p.Job.Timeout), true)
}

// selfInvokeEnd ends a hop of the self-invoke baseline the way the
// original design did: a checkpoint that leaves the job running, the
// upload, the call that starts the next hop, and only then a look at the
// job. A job that ended meanwhile is returned by this hop and, restored
// from the image taken before its end, finished again by the next one: the
// duplicate-result race. Otherwise the job is killed and whatever it did
// since the image is done again by the next hop.
func (h *hopRun) selfInvokeEnd(ctx context.Context, proc Process) map[string]any {
	h.rep.Metrics.WorkMS = time.Since(proc.Started()).Milliseconds()
	gen, err := h.checkpoint(ctx, proc, false)
	switch {
	case errors.Is(err, ErrExited):
		return h.exited(ctx, proc)
	case err != nil:
		return h.failed(fmt.Sprintf("deadline checkpoint: %v", err), true)
	}
	h.rep.Generation = gen
	if err := h.invokeNext(ctx); err != nil {
		return h.failed(fmt.Sprintf("invoke the next hop: %v", err), false)
	}
	select {
	case <-proc.Done():
		h.log.Info("the job ended after its image was taken; the next hop will end it again")
		return h.exited(ctx, proc)
	default:
	}
	proc.Kill()
	h.rep.Metrics.WorkMS = time.Since(proc.Started()).Milliseconds()
	h.rep.Status = hop.Checkpointed
	return h.answer(nil)
}

// checkpoint takes one checkpoint and saves it as the next generation.
// It returns ErrExited when the job's exit won the race: the image is
// then dropped, never saved.
func (h *hopRun) checkpoint(ctx context.Context, proc Process, stop bool) (int, error) {
	m := &h.rep.Metrics
	if stop {
		m.WorkMS = time.Since(proc.Started()).Milliseconds()
	}
	t0 := time.Now()
	if h.fault(FaultCheckpoint) {
		// Crash while the engine is writing the image.
		defer h.crashAfter(time.Millisecond, FaultCheckpoint, proc)()
	}
	img, err := proc.Checkpoint(ctx, stop)
	m.CheckpointMS += time.Since(t0).Milliseconds()
	if errors.Is(err, ErrExited) {
		h.log.Info("the job exited during a checkpoint; its exit wins", "stop", stop)
		return 0, ErrExited
	}
	if err != nil {
		return 0, err
	}
	gen, err := h.save(ctx, img, stop)
	if err == nil {
		// The image holds the work up to Behind before it was taken.
		h.imageAt, h.imageBehind = t0.Add(-img.Behind), img.Behind
	}
	return gen, err
}

// save uploads an image as generation newest+1 and prunes old ones.
func (h *hopRun) save(ctx context.Context, img Image, stop bool) (int, error) {
	m := &h.rep.Metrics
	gen := h.newest + 1
	meta := SaveMeta{Engine: h.engine.Name(), EngineVersion: h.version, Hop: h.req.Hop, Attempt: h.req.Attempt,
		Activation: h.act.ID, Final: stop, Lease: h.lease.Token}
	t0 := time.Now()
	if bm, ok := h.store.(beforeManifest); ok && h.fault(FaultUpload) {
		bm.BeforeManifest(func() { h.crash(FaultUpload, h.proc) })
	}
	err := h.store.Save(ctx, h.req.Job, gen, h.dirs.Root, img.Files, meta)
	m.UploadMS += time.Since(t0).Milliseconds()
	if err != nil {
		return 0, fmt.Errorf("save generation %d: %w", gen, err)
	}
	h.newest = gen
	// The newest whole generation is what a retry restores, whatever
	// becomes of this hop.
	h.rep.Generation = gen
	m.ImageBytes = img.Bytes
	m.Checkpoints++
	if keep := h.p.Storage.Keep; keep > 0 {
		if err := h.store.Prune(ctx, h.req.Job, keep); err != nil {
			h.log.Warn("prune old generations", "err", err)
		}
	}
	return gen, nil
}

// exited reports the job's own end.
func (h *hopRun) exited(ctx context.Context, proc Process) map[string]any {
	ex := proc.Exit()
	h.rep.Metrics.WorkMS = time.Since(proc.Started()).Milliseconds()
	if ex.Code != 0 || ex.Signal != "" {
		h.rep.ExitCode = ex.Code
		h.rep.StderrTail = h.stderr.lastText(stderrTailKeep)
		if ex.Signal != "" {
			return h.failed(fmt.Sprintf("the job was killed by signal %s", ex.Signal), true)
		}
		if ex.EngineFailed {
			return h.failed(fmt.Sprintf("the %s engine failed (exit status %d)", h.engine.Name(), ex.Code), true)
		}
		return h.failed(fmt.Sprintf("the job exited with status %d", ex.Code), false)
	}
	out, raw, err := jobResult(h.stdout.bytes(), h.dirs.Work, h.p.Job.Result)
	if err != nil {
		h.rep.StderrTail = h.stderr.lastText(stderrTailKeep)
		return h.failed(err.Error(), false)
	}
	if h.selfInvoke() {
		// The baseline returns whatever its job produced, duplicates included.
		h.rep.Status = hop.Done
		return h.answer(maps.Clone(out))
	}
	stored, won, err := h.store.CommitResult(ctx, h.req.Job, raw, h.lease.Token)
	if err != nil {
		return h.failed(fmt.Sprintf("commit the result: %v", err), true)
	}
	if !won {
		h.log.Info("another activation committed the job's result first; returning it")
	}
	return h.done(stored, !won)
}

// invokeNext starts the next hop of the self-invoke baseline through the
// REST API, as the original design did.
func (h *hopRun) invokeNext(ctx context.Context) error {
	if h.s.cfg.NewInvoker == nil {
		return errors.New("no API client is configured")
	}
	if h.act.APIKey == "" || h.act.APIHost == "" {
		return errors.New("the activation has no API host or key (the action needs the provide-api-key annotation)")
	}
	inv, err := h.s.cfg.NewInvoker(h.act.APIHost, h.act.APIKey)
	if err != nil {
		return err
	}
	req := h.req
	req.Hop++
	req.Attempt = 1
	req.BackoffMS = 0
	req.Generation = h.rep.Generation
	req.Last = h.rep.Metrics
	id, err := inv.InvokeAsync(ctx, h.act.ActionName, hop.WithRequest(h.params, req))
	if err != nil {
		return err
	}
	h.next = id
	return nil
}
