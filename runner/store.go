package runner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Store is the checkpoint store as a step uses it: whole generations of a
// job's checkpoint files, its one final result, and the lease that keeps
// two activations from running the same hop.
type Store interface {
	// Generations lists a job's generations whose manifest is written,
	// oldest first. A listed generation may still turn out damaged.
	Generations(ctx context.Context, job string) ([]int, error)
	// Save uploads files (relative to root) as generation gen; the
	// generation becomes visible only once all of it is stored.
	Save(ctx context.Context, job string, gen int, root string, files []string, meta SaveMeta) error
	// Restore downloads and verifies the newest whole generation not
	// newer than upTo (0: the newest) into root, skipping damaged ones,
	// and returns the generation restored.
	Restore(ctx context.Context, job string, upTo int, root string, engine string) (int, error)
	// CommitResult stores the job's final result unless one is stored
	// already; it returns the stored result and whether this call stored it.
	CommitResult(ctx context.Context, job string, result []byte) (stored []byte, won bool, err error)
	// Result returns the job's final result if one is committed.
	Result(ctx context.Context, job string) ([]byte, bool, error)
	// Prune deletes all but the newest keep whole generations.
	Prune(ctx context.Context, job string, keep int) error
	// Claim takes the lease on one attempt of one hop unless someone
	// holds it; it returns the holder's owner string when it lost.
	Claim(ctx context.Context, job string, hop, attempt int, owner string) (won bool, holder string, err error)
	Close() error
}

// SaveMeta describes a generation being saved.
type SaveMeta struct {
	Engine        string
	EngineVersion string
	Hop, Attempt  int
	Activation    string
	Final         bool // a deadline checkpoint (the job stopped), not an interval one
}

// The lease rule. The platform kills an activation at its deadline, so a
// holder is alive until its deadline and dead after it: the owner string
// carries the holder's activation id and deadline, and a claim held by a
// dead holder is taken over. claimGrace absorbs clock differences between
// containers; a holder that names no deadline is never taken over.
const claimGrace = 2 * time.Second

// ownerString encodes a claim's owner.
func ownerString(activation string, deadline time.Time) string {
	return fmt.Sprintf("%s deadline=%d", activation, deadline.UnixMilli())
}

// holderAlive says whether the activation named by owner may still run at
// now, and which activation it is.
func holderAlive(owner string, now time.Time) (alive bool, activation string, deadline time.Time) {
	id, rest, ok := strings.Cut(owner, " deadline=")
	if !ok {
		return true, owner, time.Time{}
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
	if err != nil {
		return true, id, time.Time{}
	}
	deadline = time.UnixMilli(ms)
	return now.Before(deadline.Add(claimGrace)), id, deadline
}
