package storage_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/storage"
)

// A file bucket on another file system than os.TempDir (a tmpfs here)
// saves and restores whole checkpoints, and the store leaves nothing in
// os.TempDir: no temporary files and no lock files.
func TestFileBucketOnAnotherFileSystem(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // os.TempDir, where fileblob and the old lock files went
	dir, err := os.MkdirTemp("/dev/shm", "wskx-store-")
	if err != nil {
		t.Skipf("no /dev/shm to put a bucket on: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if device(t, dir) == device(t, tmp) {
		t.Skipf("/dev/shm and %s are on one file system here: nothing to test", tmp)
	}
	ctx := context.Background()
	b := openBucket(t, "file://"+dir)
	src, dst := t.TempDir(), t.TempDir()
	writeRandom(t, src, "ckpt/ckpt_a.dmtcp", 3<<20, 1)
	writeRandom(t, src, "work/state.txt", 1234, 2)
	st := checkpoint.NewStore(b, "p/", checkpoint.Options{})
	for gen := 1; gen <= 3; gen++ {
		if _, err := st.Save(ctx, "job", gen, src, []string{"ckpt/ckpt_a.dmtcp", "work/state.txt"}, checkpoint.Meta{Hop: gen, Engine: "dmtcp"}); err != nil {
			t.Fatalf("save generation %d: %v", gen, err)
		}
	}
	got, err := st.Restore(ctx, "job", 0, dst, "dmtcp")
	if err != nil {
		t.Fatal(err)
	}
	if got.Generation != 3 {
		t.Fatalf("restored generation %d, want 3", got.Generation)
	}
	sameFile(t, filepath.Join(src, "ckpt/ckpt_a.dmtcp"), filepath.Join(dst, "ckpt/ckpt_a.dmtcp"))
	if err := st.RemoveAll(ctx, "job"); err != nil {
		t.Fatal(err)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left in os.TempDir: %s", e.Name())
	}
}

func device(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Dev
}

// Temporary files now sit next to their targets in the bucket: List never
// shows them, whether the write is a plain or a create-if-absent one, and
// an aborted write leaves nothing.
func TestFileListHidesWritesInProgress(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openBucket(t, "file://"+dir)
	for _, ifNotExist := range []bool{false, true} {
		key := "gen/obj"
		if ifNotExist {
			key = "gen/manifest.json"
		}
		wctx, cancel := context.WithCancel(ctx)
		w, err := b.NewWriter(wctx, key, checkpoint.WriteOptions{IfNotExist: ifNotExist})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
			t.Fatal(err)
		}
		waitForFile(t, dir, ".tmp")
		if objs := list(t, b); len(objs) != 0 {
			t.Fatalf("ifNotExist=%v: List shows a write in progress: %v", ifNotExist, objs)
		}
		cancel()
		if err := w.Close(); err == nil {
			t.Fatalf("ifNotExist=%v: an aborted write committed", ifNotExist)
		}
		if files := filesIn(t, dir); len(files) != 0 {
			t.Fatalf("ifNotExist=%v: an aborted write left %v", ifNotExist, files)
		}
	}
}

// Keys that look like fileblob's temporary files are stored under another
// name, so List hides none of them and lists each as written.
func TestFileKeysThatLookLikeTempFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openBucket(t, "file://"+dir)
	keys := []string{"a.0123456789abcdef.tmp", "b.1f.tmp~", "c.1f.tmp~~", "d~", "e.tmp", "f/g.ab.tmp", "plain"}
	for _, k := range keys {
		w, err := b.NewWriter(ctx, k, checkpoint.WriteOptions{IfNotExist: k == "plain"})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "content of "+k)
		if err := w.Close(); err != nil {
			t.Fatalf("write %s: %v", k, err)
		}
	}
	var got []string
	for _, o := range list(t, b) {
		got = append(got, o.Key)
	}
	slices.Sort(got)
	if !slices.Equal(got, keys) {
		t.Fatalf("List = %q, want %q", got, keys)
	}
	for _, k := range keys {
		r, err := b.NewReader(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(data) != "content of "+k {
			t.Fatalf("read %s: %q, %v", k, data, err)
		}
		if err := b.Delete(ctx, k); err != nil {
			t.Fatalf("delete %s: %v", k, err)
		}
	}
	if files := filesIn(t, dir); len(files) != 0 {
		t.Fatalf("left after deleting every key: %v", files)
	}
}

func list(t *testing.T, b *storage.Bucket) []checkpoint.Object {
	t.Helper()
	objs, err := b.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// filesIn lists the regular files under dir.
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitForFile waits until a file whose name ends with suffix is under
// dir: the writer has started writing into the bucket.
func waitForFile(t *testing.T, dir, suffix string) {
	t.Helper()
	for range 500 {
		for _, f := range filesIn(t, dir) {
			if filepath.Ext(f) == suffix {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s file appeared in %s", suffix, dir)
}
