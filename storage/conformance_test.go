package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/internal/blobtest"
	"github.com/wskx/wskx/storage"
)

func TestMain(m *testing.M) { os.Exit(blobtest.Main(m)) }

// syncBuf collects log output from concurrent goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func openBucket(t *testing.T, rawURL string) *storage.Bucket {
	t.Helper()
	ctx := context.Background()
	b, err := storage.Open(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("t%d-%s", time.Now().UnixNano(), strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
}

// writeRandom writes n pseudo-random bytes to root/name.
func writeRandom(t testing.TB, root, name string, n int64, seed uint64) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	if _, err := io.CopyN(f, rand.NewChaCha8(s), n); err != nil {
		t.Fatal(err)
	}
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); ; {
		na, ea := io.ReadFull(fa, ba)
		nb, _ := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			t.Fatalf("%s and %s differ near offset %d", a, b, off)
		}
		off += int64(na)
		if ea != nil {
			return
		}
	}
}

// secrets are the credential values the servers were started with; none
// may ever show in a log line or an error.
func secrets() []string {
	var out []string
	for _, k := range []string{"AZURE_STORAGE_KEY", "AWS_SECRET_ACCESS_KEY"} {
		if v := os.Getenv(k); len(v) > 8 {
			out = append(out, v)
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	for _, be := range blobtest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			blobtest.Require(t, be)
			logs := &syncBuf{}
			lg := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var errs []string
			note := func(err error) {
				if err != nil {
					errs = append(errs, err.Error())
				}
			}
			b := openBucket(t, be.URL)
			lg.Info("opened", "bucket", b.String())

			t.Run("RoundTripLarge", func(t *testing.T) { roundTrip(t, b, be.Large, lg, note) })
			t.Run("DamagedObject", func(t *testing.T) { damaged(t, b, lg, note) })
			t.Run("CreateIfAbsentRace", func(t *testing.T) { race(t, b, lg, note) })
			t.Run("ListAndPrune", func(t *testing.T) { listPrune(t, b, lg) })
			t.Run("CutMidUpload", func(t *testing.T) { cutMidUpload(t, be, lg, note) })
			t.Run("NoCredentialsInLogs", func(t *testing.T) {
				// Errors from a missing key and a bad URL go through the same scrubbing.
				_, err := b.NewReader(context.Background(), "no/such/key")
				if !errors.Is(err, checkpoint.ErrNotFound) {
					t.Fatalf("missing key: got %v, want ErrNotFound", err)
				}
				note(err)
				lg.Info("missing key", "err", err)
				all := logs.String() + strings.Join(errs, "\n")
				if !strings.Contains(all, "checkpoint saved") {
					t.Fatal("expected the store's log lines to be captured")
				}
				for _, s := range secrets() {
					if strings.Contains(all, s) {
						t.Fatalf("a credential appears in logs or errors")
					}
				}
			})
		})
	}
}

func roundTrip(t *testing.T, b *storage.Bucket, size int64, lg *slog.Logger, note func(error)) {
	ctx := context.Background()
	src, dst := t.TempDir(), t.TempDir()
	writeRandom(t, src, "ckpt/ckpt_a.dmtcp", size, 1)
	writeRandom(t, src, "work/state.txt", 1234, 2)
	st := checkpoint.NewStore(b, uniquePrefix(t), checkpoint.Options{Logger: lg})
	runtime.GC()
	peak := heapPeak()
	defer func() {
		// Streaming: the heap must stay well below the image size.
		p := peak()
		t.Logf("peak heap during a %d MiB round trip: %d MiB", size>>20, p>>20)
		if size >= 256<<20 && p > uint64(size)*3/4 {
			t.Errorf("peak heap %d MiB for a %d MiB image: not streaming", p>>20, size>>20)
		}
	}()
	m, err := st.Save(ctx, "job", 1, src, []string{"ckpt/ckpt_a.dmtcp", "work/state.txt"}, checkpoint.Meta{Hop: 1, Engine: "dmtcp"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Bytes != size+1234 {
		t.Fatalf("manifest bytes %d, want %d", m.Bytes, size+1234)
	}
	got, err := st.Restore(ctx, "job", 0, dst, "dmtcp")
	note(err)
	if err != nil {
		t.Fatal(err)
	}
	if got.Generation != 1 {
		t.Fatalf("restored gen %d", got.Generation)
	}
	sameFile(t, filepath.Join(src, "ckpt/ckpt_a.dmtcp"), filepath.Join(dst, "ckpt/ckpt_a.dmtcp"))
	sameFile(t, filepath.Join(src, "work/state.txt"), filepath.Join(dst, "work/state.txt"))
	if err := st.RemoveAll(ctx, "job"); err != nil {
		t.Fatal(err)
	}
}

// heapPeak samples the heap until the returned function is called.
func heapPeak() func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		return peak.Load()
	}
}

func damaged(t *testing.T, b *storage.Bucket, lg *slog.Logger, note func(error)) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	st := checkpoint.NewStore(b, prefix, checkpoint.Options{Logger: lg})
	src := t.TempDir()
	var ms []checkpoint.Manifest
	for gen := 1; gen <= 2; gen++ {
		writeRandom(t, src, "img", 3<<20, uint64(gen))
		m, err := st.Save(ctx, "j", gen, src, []string{"img"}, checkpoint.Meta{Engine: "dmtcp"})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	// Flip the newest generation's object to other bytes of the same size.
	key := fmt.Sprintf("%s/jobs/j/gen-000002/%s/files/img", prefix, ms[1].Data)
	w, err := b.NewWriter(ctx, key, checkpoint.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte{7}, 3<<20))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	m, err := st.Restore(ctx, "j", 0, dst, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Generation != 1 {
		t.Fatalf("restored gen %d, want 1 (gen 2 is damaged)", m.Generation)
	}
	writeRandom(t, src, "want", 3<<20, 1)
	sameFile(t, filepath.Join(src, "want"), filepath.Join(dst, "img"))
	// With gen 1 refused too (wrong engine), the error names both refusals.
	_, err = st.Restore(ctx, "j", 0, t.TempDir(), "cooperative")
	note(err)
	if err == nil || !strings.Contains(err.Error(), "gen 2") || !strings.Contains(err.Error(), "gen 1") {
		t.Fatalf("want both refusals listed, got %v", err)
	}
	st.RemoveAll(ctx, "j")
}

func race(t *testing.T, b *storage.Bucket, lg *slog.Logger, note func(error)) {
	ctx := context.Background()
	st := checkpoint.NewStore(b, uniquePrefix(t), checkpoint.Options{Logger: lg})
	src := t.TempDir()
	writeRandom(t, src, "img", 64<<10, 3)
	const n = 8
	var wg sync.WaitGroup
	saveErr := make([]error, n)
	won := make([]bool, n)
	stored := make([][]byte, n)
	claimWon := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			_, saveErr[i] = st.Save(ctx, "r", 5, src, []string{"img"}, checkpoint.Meta{Hop: i})
			var err error
			stored[i], won[i], err = st.CommitResult(ctx, "r", []byte(fmt.Sprintf(`{"writer":%d}`, i)), 0)
			if err != nil {
				t.Error(err)
			}
			// Every racer takes over the same dead holding at the next token.
			claimWon[i], err = st.TakeLease(ctx, "r", checkpoint.Lease{Token: 3, Activation: fmt.Sprintf("owner-%d", i)})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	saves, wins, claims := 0, 0, 0
	for i := range n {
		if saveErr[i] == nil {
			saves++
		} else if !errors.Is(saveErr[i], checkpoint.ErrExists) {
			t.Errorf("writer %d: %v", i, saveErr[i])
		}
		note(saveErr[i])
		if won[i] {
			wins++
		}
		if claimWon[i] {
			claims++
		}
	}
	if saves != 1 || wins != 1 || claims != 1 {
		t.Fatalf("winners: save %d, result %d, claim %d; want exactly 1 each", saves, wins, claims)
	}
	res, ok, err := st.Result(ctx, "r")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	for i := range n {
		if !bytes.Equal(stored[i], res) {
			t.Fatalf("writer %d got %q, stored is %q", i, stored[i], res)
		}
	}
	if l, ok, err := st.Lease(ctx, "r"); err != nil || !ok || l.Token != 3 || !claimWon[indexOf(l.Activation)] {
		t.Fatalf("newest holding %+v %v %v, want token 3 by the one winner", l, ok, err)
	}
	gens, err := st.Generations(ctx, "r")
	if err != nil || len(gens) != 1 {
		t.Fatalf("generations %v %v", gens, err)
	}
	if _, err := st.Restore(ctx, "r", 0, t.TempDir(), ""); err != nil {
		t.Fatal(err)
	}
	st.RemoveAll(ctx, "r")
}

func listPrune(t *testing.T, b *storage.Bucket, lg *slog.Logger) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	st := checkpoint.NewStore(b, prefix, checkpoint.Options{Logger: lg})
	src := t.TempDir()
	writeRandom(t, src, "a", 1000, 4)
	for gen := 1; gen <= 5; gen++ {
		if _, err := st.Save(ctx, "p", gen, src, []string{"a"}, checkpoint.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	// A leftover of a failed save of gen 3 (files but no manifest).
	w, _ := b.NewWriter(ctx, prefix+"/jobs/p/gen-000003/dead/files/a", checkpoint.WriteOptions{})
	w.Write([]byte("partial"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Prune(ctx, "p", 2); err != nil {
		t.Fatal(err)
	}
	gens, err := st.Generations(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(gens) != 2 || gens[0].Generation != 4 || gens[1].Generation != 5 {
		t.Fatalf("after prune: %+v", gens)
	}
	objs, err := b.List(ctx, prefix+"/jobs/p/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 4 { // 2 manifests + 2 files
		var keys []string
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		t.Fatalf("objects after prune: %v", keys)
	}
	jobs, err := st.Jobs(ctx)
	if err != nil || len(jobs) != 1 || jobs[0].Job != "p" || len(jobs[0].Generations) != 2 {
		t.Fatalf("jobs %+v %v", jobs, err)
	}
	if _, _, err := st.CommitResult(ctx, "p", []byte("done"), 0); err != nil {
		t.Fatal(err)
	}
	if err := st.Remove(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	objs, _ = b.List(ctx, prefix+"/jobs/p/")
	if len(objs) != 1 || !strings.HasSuffix(objs[0].Key, "result.json") {
		t.Fatalf("after Remove want only the result, got %v", objs)
	}
	st.RemoveAll(ctx, "p")
}

// cutMidUpload routes the client through a proxy and cuts every connection
// while a checkpoint uploads, then lets it through again ("server restarted").
// Either the upload fails and no generation is visible, or the SDK's
// retries carry it through; either way the stored data must verify.
func cutMidUpload(t *testing.T, be blobtest.Backend, lg *slog.Logger, note func(error)) {
	var target string
	u, _ := url.Parse(be.URL)
	q := u.Query()
	switch be.Name {
	case "file":
		t.Skip("no server to stop for file storage")
	case "azure":
		target = q.Get("domain")
	case "s3":
		e, _ := url.Parse(q.Get("endpoint"))
		target = e.Host
	case "gcs":
		target = os.Getenv("STORAGE_EMULATOR_HOST")
	}
	p := blobtest.NewProxy(t, target)
	switch be.Name {
	case "azure":
		q.Set("domain", p.Addr())
	case "s3":
		q.Set("endpoint", "http://"+p.Addr())
	case "gcs":
		t.Setenv("STORAGE_EMULATOR_HOST", p.Addr())
	}
	u.RawQuery = q.Encode()
	prefix := uniquePrefix(t)
	st := checkpoint.NewStore(openBucket(t, u.String()), prefix, checkpoint.Options{Logger: lg})
	src := t.TempDir()
	writeRandom(t, src, "img", 48<<20, 9)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stop := make(chan struct{})
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		for p.Upstream.Load() < 12<<20 {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		p.Cut()
		time.Sleep(300 * time.Millisecond)
		p.Up()
	}()
	_, err := st.Save(ctx, "cut", 1, src, []string{"img"}, checkpoint.Meta{})
	close(stop)
	<-cut
	note(err)
	p.Up()
	bctx := context.Background()
	// Check through a direct connection: fake-gcs-server serves downloads
	// only to its public host name, which the proxy does not carry.
	if be.Name == "gcs" {
		t.Setenv("STORAGE_EMULATOR_HOST", target)
	}
	direct := checkpoint.NewStore(openBucket(t, be.URL), prefix, checkpoint.Options{Logger: lg})
	if err != nil {
		t.Logf("upload failed cleanly after the cut: %v", err)
		gens, gerr := direct.Generations(bctx, "cut")
		if gerr != nil {
			t.Fatal(gerr)
		}
		if len(gens) != 0 {
			t.Fatalf("a failed save left a visible generation: %+v", gens)
		}
		if _, err := direct.Save(bctx, "cut", 1, src, []string{"img"}, checkpoint.Meta{}); err != nil {
			t.Fatalf("retry after restart: %v", err)
		}
	} else {
		t.Log("upload resumed through the cut")
	}
	dst := t.TempDir()
	if _, err := direct.Restore(bctx, "cut", 0, dst, ""); err != nil {
		t.Fatal(err)
	}
	sameFile(t, filepath.Join(src, "img"), filepath.Join(dst, "img"))
	direct.RemoveAll(bctx, "cut")
}

// indexOf reads the racer's number back from "owner-N".
func indexOf(owner string) int {
	var i int
	fmt.Sscanf(owner, "owner-%d", &i)
	return i
}
