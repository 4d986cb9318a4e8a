package storage

import (
	"fmt"
	"os"
	"syscall"
)

// fileblob checks IfNotExist with a stat before its rename, guarded only by
// a per-writer mutex, so two concurrent writers can both "win". For file://
// buckets the store therefore serialises create-if-absent writes with an
// flock on the bucket directory itself: flock holds across processes on
// the same machine, and locking the directory leaves no lock file behind,
// neither in the bucket (where List would show it) nor in /tmp.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
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
