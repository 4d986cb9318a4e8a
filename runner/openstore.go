package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/storage"
)

// OpenStore opens a policy's checkpoint storage: the bucket named by its
// URL, with the policy's compression and, when it asks for encryption, the
// key from WSKX_ENCRYPTION_KEY.
func OpenStore(ctx context.Context, st policies.Storage) (Store, error) {
	opts := checkpoint.Options{Compression: st.Compression}
	if st.Encrypt {
		key, err := checkpoint.KeyFromEnv()
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		opts.EncryptionKey = key
	}
	b, err := storage.Open(ctx, st.URL)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	hb := &hookBucket{Bucket: b}
	return &bucketStore{s: checkpoint.NewStore(hb, st.Prefix, opts), b: b, hooks: hb}, nil
}

// bucketStore is the step's view of a checkpoint.Store: generations by
// number, the rest passed through.
type bucketStore struct {
	s     *checkpoint.Store
	b     *storage.Bucket
	hooks *hookBucket
}

// BeforeManifest sets the upload fault's hook.
func (c *bucketStore) BeforeManifest(hook func()) { c.hooks.hook = hook }

func (c *bucketStore) Generations(ctx context.Context, job string) ([]int, error) {
	ms, err := c.s.Generations(ctx, job)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Generation
	}
	return out, nil
}

func (c *bucketStore) Save(ctx context.Context, job string, gen int, root string, files []string, meta SaveMeta) error {
	_, err := c.s.Save(ctx, job, gen, root, files, checkpoint.Meta{
		Hop: meta.Hop, Engine: meta.Engine, EngineVersion: meta.EngineVersion, Created: time.Now(),
	})
	return err
}

func (c *bucketStore) Restore(ctx context.Context, job string, upTo int, root, engine string) (int, error) {
	m, err := c.s.Restore(ctx, job, upTo, root, engine)
	return m.Generation, err
}

func (c *bucketStore) CommitResult(ctx context.Context, job string, result []byte) ([]byte, bool, error) {
	return c.s.CommitResult(ctx, job, result)
}

func (c *bucketStore) Result(ctx context.Context, job string) ([]byte, bool, error) {
	return c.s.Result(ctx, job)
}

func (c *bucketStore) Prune(ctx context.Context, job string, keep int) error {
	return c.s.Prune(ctx, job, keep)
}

func (c *bucketStore) Claim(ctx context.Context, job string, hop, attempt int, owner string) (bool, string, error) {
	return c.s.Claim(ctx, job, hop, attempt, owner)
}

func (c *bucketStore) Close() error { return c.b.Close() }
