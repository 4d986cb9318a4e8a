package checkpoint_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/storage"
)

func fileBucket(t *testing.T) *storage.Bucket {
	t.Helper()
	b, err := storage.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// writeFiles makes a small checkpoint: a compressible image, random bytes
// larger than one encryption chunk, and a nested file.
func writeFiles(t *testing.T) (string, []string) {
	root := t.TempDir()
	rnd := make([]byte, 3<<20+17)
	rand.Read(rnd)
	files := map[string][]byte{
		"ckpt/ckpt_1.dmtcp": bytes.Repeat([]byte("checkpoint image page "), 200000),
		"ckpt/random.bin":   rnd,
		"work/out/log.txt":  []byte("line 1\n"),
		"work/empty":        nil,
	}
	var names []string
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, body, 0o640); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return root, names
}

func checkSame(t *testing.T, a, b string, names []string) {
	t.Helper()
	for _, n := range names {
		x, err := os.ReadFile(filepath.Join(a, n))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Fatalf("%s differs after restore", n)
		}
	}
}

func key32() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func TestRoundTripCodecs(t *testing.T) {
	tests := []struct {
		name        string
		compression string
		key         []byte
		checksum    string
	}{
		{"plain", "", nil, ""},
		{"zstd", "zstd", nil, ""},
		{"aes", "", key32(), ""},
		{"zstd+aes", "zstd", key32(), ""},
		{"crc32c", "", nil, "crc32c"},
		{"crc32c+zstd+aes", "zstd", key32(), "crc32c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			src, names := writeFiles(t)
			st := checkpoint.NewStore(fileBucket(t), "pre", checkpoint.Options{Compression: tt.compression, EncryptionKey: tt.key, Checksum: tt.checksum})
			m, err := st.Save(ctx, "job", 1, src, names, checkpoint.Meta{Hop: 1, Engine: "dmtcp"})
			if err != nil {
				t.Fatal(err)
			}
			if m.Compression != tt.compression || (m.Encryption != "") != (tt.key != nil) {
				t.Fatalf("manifest codecs %q %q", m.Compression, m.Encryption)
			}
			var raw int64
			for _, f := range m.Files {
				raw += f.Size
				// Exactly the chosen checksum is recorded, in hex of its width.
				sha, crc := len(f.SHA256) == 64 && f.CRC32C == "", len(f.CRC32C) == 8 && f.SHA256 == ""
				if (tt.checksum == "crc32c" && !crc) || (tt.checksum != "crc32c" && !sha) {
					t.Fatalf("%s: checksum %q, recorded sha256=%q crc32c=%q", f.Path, m.Checksum, f.SHA256, f.CRC32C)
				}
			}
			if tt.compression == "zstd" && m.Bytes >= raw {
				t.Fatalf("zstd stored %d bytes for %d raw", m.Bytes, raw)
			}
			dst := t.TempDir()
			got, err := st.Restore(ctx, "job", 0, dst, "dmtcp")
			if err != nil {
				t.Fatal(err)
			}
			if got.Generation != 1 || got.Hop != 1 {
				t.Fatalf("restored %+v", got.Meta)
			}
			checkSame(t, src, dst, names)
			fi, err := os.Stat(filepath.Join(dst, "work/out/log.txt"))
			if err != nil || fi.Mode().Perm() != 0o640 {
				t.Fatalf("mode not kept: %v %v", fi.Mode(), err)
			}
		})
	}
}

func TestEncryptionKeys(t *testing.T) {
	ctx := context.Background()
	b := fileBucket(t)
	src, names := writeFiles(t)
	k := key32()
	if _, err := checkpoint.NewStore(b, "", checkpoint.Options{EncryptionKey: k}).Save(ctx, "j", 1, src, names, checkpoint.Meta{}); err != nil {
		t.Fatal(err)
	}
	// The stored bytes must not contain the plaintext.
	objs, _ := b.List(ctx, "")
	for _, o := range objs {
		if strings.HasSuffix(o.Key, "ckpt_1.dmtcp") {
			r, _ := b.NewReader(ctx, o.Key)
			body, _ := io.ReadAll(r)
			r.Close()
			if bytes.Contains(body, []byte("checkpoint image page")) {
				t.Fatal("plaintext visible in encrypted object")
			}
		}
	}
	tests := []struct {
		name string
		key  []byte
		want string
	}{
		{"wrong key", key32(), "different key"},
		{"no key", nil, "no key is set"},
	}
	for _, tt := range tests {
		_, err := checkpoint.NewStore(b, "", checkpoint.Options{EncryptionKey: tt.key}).Restore(ctx, "j", 0, t.TempDir(), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	// A tampered ciphertext is refused even with the right key.
	flipBit(t, b, "random.bin", 2)
	_, err := checkpoint.NewStore(b, "", checkpoint.Options{EncryptionKey: k}).Restore(ctx, "j", 0, t.TempDir(), "")
	if err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("tampered: got %v", err)
	}
}

func TestKeyFromEnv(t *testing.T) {
	t.Setenv(checkpoint.EncryptionKeyEnv, "")
	if k, err := checkpoint.KeyFromEnv(); k != nil || err != nil {
		t.Fatal(k, err)
	}
	t.Setenv(checkpoint.EncryptionKeyEnv, "c2hvcnQ=")
	if _, err := checkpoint.KeyFromEnv(); err == nil || strings.Contains(err.Error(), "c2hvcnQ") {
		t.Fatalf("short key: %v", err)
	}
	t.Setenv(checkpoint.EncryptionKeyEnv, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if k, err := checkpoint.KeyFromEnv(); err != nil || len(k) != 32 {
		t.Fatal(k, err)
	}
}

// gate holds the manifest write until released, to look at the bucket
// while a Save has uploaded its files but not its manifest.
type gate struct {
	checkpoint.Bucket
	reached chan struct{}
	release chan struct{}
	fail    bool
}

func (g *gate) NewWriter(ctx context.Context, key string, o checkpoint.WriteOptions) (io.WriteCloser, error) {
	if strings.HasSuffix(key, "/manifest.json") {
		close(g.reached)
		<-g.release
		if g.fail {
			return nil, errors.New("injected failure")
		}
	}
	return g.Bucket.NewWriter(ctx, key, o)
}

func TestManifestLastVisibility(t *testing.T) {
	for _, fail := range []bool{false, true} {
		ctx := context.Background()
		b := fileBucket(t)
		g := &gate{Bucket: b, reached: make(chan struct{}), release: make(chan struct{}), fail: fail}
		st := checkpoint.NewStore(g, "", checkpoint.Options{})
		src, names := writeFiles(t)
		var wg sync.WaitGroup
		var saveErr error
		wg.Go(func() { _, saveErr = st.Save(ctx, "v", 1, src, names, checkpoint.Meta{}) })
		<-g.reached
		objs, _ := b.List(ctx, "jobs/v/")
		if len(objs) != len(names) {
			t.Fatalf("want the %d files uploaded before the manifest, got %d objects", len(names), len(objs))
		}
		gens, err := st.Generations(ctx, "v")
		if err != nil || len(gens) != 0 {
			t.Fatalf("generation visible before its manifest: %v %v", gens, err)
		}
		if _, err := st.Restore(ctx, "v", 0, t.TempDir(), ""); !errors.Is(err, checkpoint.ErrNotFound) {
			t.Fatalf("restore before manifest: %v", err)
		}
		close(g.release)
		wg.Wait()
		gens, _ = st.Generations(ctx, "v")
		if fail {
			if saveErr == nil || len(gens) != 0 {
				t.Fatalf("failed manifest: err %v, gens %d", saveErr, len(gens))
			}
			continue
		}
		if saveErr != nil || len(gens) != 1 {
			t.Fatalf("save %v, gens %d", saveErr, len(gens))
		}
		if _, err := st.Save(ctx, "v", 1, src, names, checkpoint.Meta{}); !errors.Is(err, checkpoint.ErrExists) {
			t.Fatalf("second save: %v, want ErrExists", err)
		}
	}
}

func TestRestoreChoice(t *testing.T) {
	ctx := context.Background()
	st := checkpoint.NewStore(fileBucket(t), "", checkpoint.Options{})
	src := t.TempDir()
	for gen, engine := range map[int]string{1: "dmtcp", 2: "dmtcp", 3: "cooperative"} {
		os.WriteFile(filepath.Join(src, "f"), []byte{byte(gen)}, 0o644)
		if _, err := st.Save(ctx, "c", gen, src, []string{"f"}, checkpoint.Meta{Engine: engine}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		upTo    int
		engine  string
		wantGen int
	}{
		{0, "", 3},
		{0, "dmtcp", 2},
		{2, "", 2},
		{1, "", 1},
		{0, "cooperative", 3},
	}
	for _, tt := range tests {
		dst := t.TempDir()
		m, err := st.Restore(ctx, "c", tt.upTo, dst, tt.engine)
		if err != nil || m.Generation != tt.wantGen {
			t.Errorf("Restore(upTo %d, %q) = gen %d, %v; want gen %d", tt.upTo, tt.engine, m.Generation, err, tt.wantGen)
			continue
		}
		body, _ := os.ReadFile(filepath.Join(dst, "f"))
		if !bytes.Equal(body, []byte{byte(tt.wantGen)}) {
			t.Errorf("gen %d restored wrong bytes %v", tt.wantGen, body)
		}
	}
	if _, err := st.Restore(ctx, "c", 0, t.TempDir(), "none"); err == nil || !strings.Contains(err.Error(), `engine "dmtcp", want "none"`) {
		t.Errorf("wrong engine: %v", err)
	}
}

func TestRejectsBadPaths(t *testing.T) {
	st := checkpoint.NewStore(fileBucket(t), "", checkpoint.Options{})
	for _, p := range []string{"../x", "/etc/passwd", "", "a/../../b"} {
		if _, err := st.Save(context.Background(), "j", 1, t.TempDir(), []string{p}, checkpoint.Meta{}); err == nil || !strings.Contains(err.Error(), "invalid file path") {
			t.Errorf("path %q: %v", p, err)
		}
	}
	for _, j := range []string{"", "a/b", ".."} {
		if _, err := st.Save(context.Background(), j, 1, t.TempDir(), nil, checkpoint.Meta{}); err == nil {
			t.Errorf("job %q accepted", j)
		}
	}
}

// TestChecksumCatchesDamage flips one byte of a stored file (same size, so
// only the checksum can tell) and expects the restore to name the check.
func TestChecksumCatchesDamage(t *testing.T) {
	for _, sum := range []string{"", "sha256", "crc32c"} {
		t.Run("checksum="+sum, func(t *testing.T) {
			ctx := context.Background()
			b := fileBucket(t)
			src, names := writeFiles(t)
			st := checkpoint.NewStore(b, "", checkpoint.Options{Checksum: sum})
			if _, err := st.Save(ctx, "j", 1, src, names, checkpoint.Meta{}); err != nil {
				t.Fatal(err)
			}
			flipBit(t, b, "random.bin", 3)
			want := sum
			if want == "" {
				want = "sha256"
			}
			dst := t.TempDir()
			_, err := st.Restore(ctx, "j", 0, dst, "")
			if err == nil || !strings.Contains(err.Error(), want+" mismatch") {
				t.Fatalf("got %v, want a %s mismatch", err, want)
			}
			if left, _ := os.ReadDir(dst); len(left) != 0 {
				t.Fatalf("a refused generation left %d entries in the target", len(left))
			}
		})
	}
	_, err := checkpoint.NewStore(fileBucket(t), "", checkpoint.Options{Checksum: "md5"}).Save(context.Background(), "j", 1, t.TempDir(), nil, checkpoint.Meta{})
	if err == nil || !strings.Contains(err.Error(), `unknown checksum "md5"`) {
		t.Fatalf("md5: %v", err)
	}
}

// flipBit flips one bit, 1/frac of the way into every stored object whose
// key ends in suffix, keeping its size.
func flipBit(t *testing.T, b checkpoint.Bucket, suffix string, frac int) {
	t.Helper()
	ctx := context.Background()
	objs, err := b.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, suffix) {
			continue
		}
		r, err := b.NewReader(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r)
		r.Close()
		body[len(body)/frac] ^= 0x40
		w, err := b.NewWriter(ctx, o.Key, checkpoint.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
