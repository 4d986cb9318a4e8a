package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/storage"
)

// OpenStore opens a policy's checkpoint storage as a Store.
func OpenStore(ctx context.Context, st policies.Storage) (Store, error) {
	var key []byte
	if st.Encrypt {
		k, err := checkpoint.KeyFromEnv()
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		if k == nil {
			return nil, errors.New("open store: the policy encrypts checkpoints but " + checkpoint.EncryptionKeyEnv + " is not set")
		}
		key = k
	}
	b, err := storage.Open(ctx, st.URL)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// The hook bucket lets the upload fault (fault.go) crash between a
	// generation's files and its manifest; it is inert otherwise.
	hb := &hookBucket{Bucket: b}
	s := checkpoint.NewStore(hb, st.Prefix, checkpoint.Options{Compression: st.Compression, Checksum: st.Checksum, EncryptionKey: key, Keep: st.Keep})
	return &checkpointStore{s: s, b: b, hooks: hb}, nil
}

// checkpointStore adapts checkpoint.Store to Store.
type checkpointStore struct {
	s     *checkpoint.Store
	b     *storage.Bucket
	hooks *hookBucket
}

// BeforeManifest sets the upload fault's hook.
func (c *checkpointStore) BeforeManifest(hook func()) { c.hooks.hook = hook }

func (c *checkpointStore) Generations(ctx context.Context, job string) ([]int, error) {
	ms, err := c.s.Generations(ctx, job)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Generation)
	}
	return out, nil
}

func (c *checkpointStore) Save(ctx context.Context, job string, gen int, root string, files []string, meta SaveMeta) error {
	_, err := c.s.Save(ctx, job, gen, root, files, checkpoint.Meta{
		Hop: meta.Hop, Engine: meta.Engine, EngineVersion: meta.EngineVersion, Created: time.Now(),
	})
	return err
}

func (c *checkpointStore) Restore(ctx context.Context, job string, upTo int, root, engine string) (int, error) {
	m, err := c.s.Restore(ctx, job, upTo, root, engine)
	if err != nil {
		return 0, err
	}
	return m.Generation, nil
}

func (c *checkpointStore) CommitResult(ctx context.Context, job string, result []byte) ([]byte, bool, error) {
	return c.s.CommitResult(ctx, job, result)
}

func (c *checkpointStore) Result(ctx context.Context, job string) ([]byte, bool, error) {
	return c.s.Result(ctx, job)
}

func (c *checkpointStore) Prune(ctx context.Context, job string, keep int) error {
	return c.s.Prune(ctx, job, keep)
}

func (c *checkpointStore) Claim(ctx context.Context, job string, hop, attempt int, owner string) (bool, string, error) {
	return c.s.Claim(ctx, job, hop, attempt, owner)
}

func (c *checkpointStore) Close() error { return c.b.Close() }
