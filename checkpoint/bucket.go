// Package checkpoint owns the checkpoint store: generations of a job's
// checkpoint files with manifests and checksums, final results and hop
// claims, all kept in a blob bucket behind the small Bucket interface.
package checkpoint

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) by Bucket.NewReader for a missing key.
var ErrNotFound = errors.New("not found")

// ErrExists is returned (wrapped) when a create-if-absent write loses: the
// key already exists.
var ErrExists = errors.New("already exists")

// WriteOptions tunes one Bucket write.
type WriteOptions struct {
	// IfNotExist makes the write fail with ErrExists when the key exists,
	// atomically with respect to other writers.
	IfNotExist bool
	// ContentType is recorded with the object when the backend keeps it.
	ContentType string
}

// Object describes one stored blob.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Bucket is the blob interface the store needs. Writers commit on Close; an
// error or a cancelled context before Close leaves nothing visible.
type Bucket interface {
	NewWriter(ctx context.Context, key string, opts WriteOptions) (io.WriteCloser, error)
	NewReader(ctx context.Context, key string) (io.ReadCloser, error)
	List(ctx context.Context, prefix string) ([]Object, error)
	Delete(ctx context.Context, key string) error
}
