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
	return &checkpointStore{Store: s, b: b, hooks: hb}, nil
}

// checkpointStore adapts checkpoint.Store to Store.
type checkpointStore struct {
	*checkpoint.Store
	b     *storage.Bucket
	hooks *hookBucket
}

// BeforeManifest sets the upload fault's hook.
func (c *checkpointStore) BeforeManifest(hook func()) { c.hooks.hook = hook }

func (c *checkpointStore) Generations(ctx context.Context, job string) (checkpoint.Listing, error) {
	return c.Store.Listing(ctx, job)
}

func (c *checkpointStore) Save(ctx context.Context, job string, gen int, root string, files []string, meta SaveMeta) error {
	_, err := c.Store.Save(ctx, job, gen, root, files, checkpoint.Meta{
		Hop: meta.Hop, Engine: meta.Engine, EngineVersion: meta.EngineVersion, Created: time.Now(), Lease: meta.Lease,
	})
	return err
}

func (c *checkpointStore) Restore(ctx context.Context, job string, upTo int, root, engine string) (int, error) {
	m, err := c.Store.Restore(ctx, job, upTo, root, engine)
	if err != nil {
		return 0, err
	}
	return m.Generation, nil
}

func (c *checkpointStore) Close() error { return c.b.Close() }
