package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wskx/wskx/checkpoint"
)

// Fault points. A fault makes the step's container crash at that point of
// one hop, as a killed or failed machine would, so that tests and
// experiments can check that a chain survives it. They are set with the
// environment variable WSKX_FAULT, which only a test or an experiment
// sets: "POINT@HOP[.ATTEMPT],...", the attempt being 1 when not given.
const (
	FaultWork       = "work"       // halfway between the job's start and the deadline checkpoint
	FaultCheckpoint = "checkpoint" // while the engine writes a checkpoint
	FaultUpload     = "upload"     // after a generation's files are stored, before its manifest
)

// FaultEnv is the environment variable that sets faults.
const FaultEnv = "WSKX_FAULT"

// faults is a parsed WSKX_FAULT.
type faults map[string]bool

// parseFaults reads "upload@2,checkpoint@3.2".
func parseFaults(s string) (faults, error) {
	f := faults{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		point, at, ok := strings.Cut(item, "@")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not POINT@HOP[.ATTEMPT]", FaultEnv, item)
		}
		switch point {
		case FaultWork, FaultCheckpoint, FaultUpload:
		default:
			return nil, fmt.Errorf("%s: unknown point %q (want %s, %s or %s)", FaultEnv, point, FaultWork, FaultCheckpoint, FaultUpload)
		}
		hopS, attS, _ := strings.Cut(at, ".")
		if attS == "" {
			attS = "1"
		}
		h, err1 := strconv.Atoi(hopS)
		a, err2 := strconv.Atoi(attS)
		if err1 != nil || err2 != nil || h < 1 || a < 1 {
			return nil, fmt.Errorf("%s: %q does not name a hop and attempt", FaultEnv, item)
		}
		f[faultKey(point, h, a)] = true
	}
	return f, nil
}

func faultKey(point string, hop, attempt int) string {
	return fmt.Sprintf("%s@%d.%d", point, hop, attempt)
}

// fault says whether this hop must crash at point.
func (h *hopRun) fault(point string) bool {
	return h.s.faults[faultKey(point, h.req.Hop, h.req.Attempt)]
}

// crash ends the container at once, as a machine failure would: the job
// and everything the hop started die with it, and the proxy answers
// nothing.
func (h *hopRun) crash(point string, proc Process) {
	h.log.Warn("injected fault: crashing the container", "point", point, "hop", h.req.Hop, "attempt", h.req.Attempt)
	if proc != nil {
		proc.Kill()
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// crashAfter crashes after d unless the returned stop is called first.
func (h *hopRun) crashAfter(d time.Duration, point string, proc Process) (stop func() bool) {
	return time.AfterFunc(d, func() { h.crash(point, proc) }).Stop
}

// beforeManifest is implemented by stores that can run a hook just before
// a generation's manifest is written (the upload fault).
type beforeManifest interface {
	BeforeManifest(hook func())
}

// hookBucket calls a hook before the store writes any manifest, which is
// the moment a generation becomes visible.
type hookBucket struct {
	checkpoint.Bucket
	hook func()
}

func (b *hookBucket) NewWriter(ctx context.Context, key string, opts checkpoint.WriteOptions) (io.WriteCloser, error) {
	if b.hook != nil && strings.HasSuffix(key, "/manifest.json") {
		b.hook()
	}
	return b.Bucket.NewWriter(ctx, key, opts)
}
