package runner

import (
	"context"
	"time"

	"github.com/wskx/wskx/checkpoint"
)

// Store is the checkpoint store as a step uses it: whole generations of a
// job's checkpoint files, its one final result, its record, and the lease
// that keeps two activations from running the job at once.
type Store interface {
	// Generations lists a job's generations: the whole ones, oldest first
	// (a listed one may still turn out damaged), and the numbers of those
	// whose manifest cannot be read.
	Generations(ctx context.Context, job string) (checkpoint.Listing, error)
	// Save uploads files (relative to root) as generation gen; the
	// generation becomes visible only once all of it is stored, and only
	// while meta.Lease is the job's newest holding.
	Save(ctx context.Context, job string, gen int, root string, files []string, meta SaveMeta) error
	// Restore downloads and verifies the newest whole generation not
	// newer than upTo (0: the newest) into root, skipping damaged ones,
	// and returns the generation restored.
	Restore(ctx context.Context, job string, upTo int, root string, engine string) (int, error)
	// CommitResult stores the job's final result unless one is stored
	// already or lease is no longer the newest holding; it returns the
	// stored result and whether this call stored it.
	CommitResult(ctx context.Context, job string, result []byte, lease int) (stored []byte, won bool, err error)
	// Result returns the job's final result if one is committed.
	Result(ctx context.Context, job string) ([]byte, bool, error)
	// Prune deletes all but the newest keep whole generations.
	Prune(ctx context.Context, job string, keep int) error
	// Lease returns the job's newest holding, if any.
	Lease(ctx context.Context, job string) (checkpoint.Lease, bool, error)
	// TakeLease writes a holding at its token unless that token is taken.
	TakeLease(ctx context.Context, job string, l checkpoint.Lease) (bool, error)
	// EnsureRecord stores the job's record unless one exists and returns
	// the stored one.
	EnsureRecord(ctx context.Context, job string, rec checkpoint.Record) (checkpoint.Record, error)
	Close() error
}

// SaveMeta describes a generation being saved.
type SaveMeta struct {
	Engine        string
	EngineVersion string
	Hop, Attempt  int
	Activation    string
	Final         bool // a deadline checkpoint (the job stopped), not an interval one
	Lease         int  // the saver's lease token
}

// The lease rule. The platform kills an activation at its deadline, so a
// holder is alive until its deadline and dead after it; leaseGrace absorbs
// clock differences between containers. A holding of the asking chain is
// its own previous hop, which has answered (a chain runs one step at a
// time), so it never blocks.
const leaseGrace = 2 * time.Second

// holderAlive says whether the holder of l may still be running at now.
func holderAlive(l checkpoint.Lease, now time.Time) bool {
	return now.Before(time.UnixMilli(l.Deadline).Add(leaseGrace))
}

// metaTimeout bounds each small store call (a result, a lease, a listing,
// a record). During a storage outage an SDK retries until its context
// ends; without a bound every attempt of a hop would wait out the whole
// activation before it could say so. Uploads and downloads are bounded by
// the hop's own deadline instead.
const metaTimeout = 5 * time.Second

// boundedStore gives each small call of a Store its own deadline.
type boundedStore struct {
	Store
	d time.Duration
}

func (b boundedStore) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.d)
}

func (b boundedStore) Generations(ctx context.Context, job string) (checkpoint.Listing, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.Store.Generations(ctx, job)
}

func (b boundedStore) CommitResult(ctx context.Context, job string, result []byte, lease int) ([]byte, bool, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.Store.CommitResult(ctx, job, result, lease)
}

func (b boundedStore) Result(ctx context.Context, job string) ([]byte, bool, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.Store.Result(ctx, job)
}

func (b boundedStore) Lease(ctx context.Context, job string) (checkpoint.Lease, bool, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.Store.Lease(ctx, job)
}

func (b boundedStore) TakeLease(ctx context.Context, job string, l checkpoint.Lease) (bool, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.Store.TakeLease(ctx, job, l)
}

func (b boundedStore) EnsureRecord(ctx context.Context, job string, rec checkpoint.Record) (checkpoint.Record, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.Store.EnsureRecord(ctx, job, rec)
}

// BeforeManifest passes the upload fault's hook through.
func (b boundedStore) BeforeManifest(hook func()) {
	if bm, ok := b.Store.(beforeManifest); ok {
		bm.BeforeManifest(hook)
	}
}
