package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// fileblob checks IfNotExist with a stat before its rename, guarded only by
// a per-writer mutex, so two concurrent writers can both "win". For file://
// buckets the store therefore serialises create-if-absent writes with an
// flock on a lock file named after the bucket directory; flock also holds
// across processes on the same machine.
func lockDir(dir string) (unlock func(), err error) {
	sum := sha256.Sum256([]byte(filepath.Clean(dir)))
	p := filepath.Join(os.TempDir(), "wskx-fileblob-"+hex.EncodeToString(sum[:8])+".lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
