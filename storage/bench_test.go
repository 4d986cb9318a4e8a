package storage_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/internal/blobtest"
	"github.com/wskx/wskx/storage"
)

// BenchmarkThroughput compares, per backend, a plain single-object copy
// through gocloud.dev/blob (raw) with the checkpoint store saving and
// restoring the same bytes, with either checksum and with and without zstd
// and AES-GCM. Go prints MB/s; peak-heap-MB is the largest heap seen while
// the benchmark ran.
// Size: WSKX_BENCH_MB (default 64). The data is random (incompressible),
// the worst case for zstd.
func BenchmarkThroughput(b *testing.B) {
	mb := int64(64)
	if v, err := strconv.Atoi(os.Getenv("WSKX_BENCH_MB")); err == nil && v > 0 {
		mb = int64(v)
	}
	size := mb << 20
	src := b.TempDir()
	writeRandom(b, src, "img", size, 42)
	key := make([]byte, 32)
	rand.Read(key)
	variants := []struct {
		name string
		raw  bool
		opts checkpoint.Options
		url  string // extra query
	}{
		{name: "raw", raw: true},
		{name: "store"},
		{name: "store-crc32c", opts: checkpoint.Options{Checksum: checkpoint.ChecksumCRC32C}},
		{name: "store-zstd", opts: checkpoint.Options{Compression: "zstd"}},
		{name: "store-aes", opts: checkpoint.Options{EncryptionKey: key}},
		{name: "store-zstd-aes", opts: checkpoint.Options{Compression: "zstd", EncryptionKey: key}},
		{name: "store-buf5M-c1", url: "buffer_size=5242880&max_concurrency=1"},
	}
	for _, be := range blobtest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			blobtest.Require(b, be)
			for _, v := range variants {
				u := be.URL
				if v.url != "" {
					if be.Name == "file" || be.Name == "gcs" {
						continue
					}
					u += "&" + v.url
				}
				bk := openBucket2(b, u)
				for _, dir := range []string{"up", "down"} {
					b.Run(v.name+"/"+dir, func(b *testing.B) {
						ctx := context.Background()
						b.SetBytes(size)
						peak := watchHeap(b)
						for i := 0; i < b.N; i++ {
							prefix := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
							st := checkpoint.NewStore(bk, prefix, v.opts)
							if dir == "down" {
								b.StopTimer()
							}
							if v.raw {
								rawUpload(b, ctx, u, prefix+"/img", filepath.Join(src, "img"))
							} else if _, err := st.Save(ctx, "j", 1, src, []string{"img"}, checkpoint.Meta{}); err != nil {
								b.Fatal(err)
							}
							if dir == "down" {
								b.StartTimer()
								dst := b.TempDir()
								if v.raw {
									rawDownload(b, ctx, u, prefix+"/img", filepath.Join(dst, "img"))
								} else if _, err := st.Restore(ctx, "j", 0, dst, ""); err != nil {
									b.Fatal(err)
								}
								b.StopTimer()
								os.RemoveAll(dst)
							}
							b.StopTimer()
							st.RemoveAll(ctx, "j")
							bk.Delete(ctx, prefix+"/img")
							b.StartTimer()
						}
						b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
					})
				}
			}
		})
	}
}

func openBucket2(b *testing.B, u string) *storage.Bucket {
	b.Helper()
	ctx := context.Background()
	bk, err := storage.Open(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bk.Close() })
	if err := bk.EnsureBucket(ctx); err != nil {
		b.Fatal(err)
	}
	return bk
}

// watchHeap samples the heap until the benchmark ends.
func watchHeap(b *testing.B) func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	b.Cleanup(func() { close(done) })
	return peak.Load
}

// rawURL gives the raw copy the same SDK options the store uses.
func rawURL(u string) string {
	switch {
	case strings.HasPrefix(u, "file://"):
		return u + "?metadata=skip"
	case strings.HasPrefix(u, "s3://"):
		return u + "&request_checksum_calculation=when_required&response_checksum_validation=when_required"
	}
	return u
}

func rawUpload(b *testing.B, ctx context.Context, u, key, path string) {
	bk, err := blob.OpenBucket(ctx, rawURL(u))
	if err != nil {
		b.Fatal(err)
	}
	defer bk.Close()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := bk.Upload(ctx, key, f, &blob.WriterOptions{ContentType: "application/octet-stream"}); err != nil {
		b.Fatal(err)
	}
}

func rawDownload(b *testing.B, ctx context.Context, u, key, path string) {
	bk, err := blob.OpenBucket(ctx, rawURL(u))
	if err != nil {
		b.Fatal(err)
	}
	defer bk.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := bk.Download(ctx, key, f, nil); err != nil {
		b.Fatal(err)
	}
}
