package platform

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/wskx/wskx/whisk"
)

// benchCases are the invocations measured: a no-op native action (a shell
// script in a dockerskeleton zip) and a one-step conductor (conductor run,
// the native no-op, conductor run); for comparison, a no-op in a
// blackbox container (the Go test action server).
var benchCases = []struct {
	name   string
	action string
	params map[string]any
}{
	{"noop", "noop", nil},
	{"blackbox-noop", "bbnoop", nil},
	{"conductor-1step", "conductor", map[string]any{"action": "noop"}},
}

// benchStores are the two ways of keeping records: in memory, and under a
// data directory as wskx standalone does (two files per activation).
var benchStores = []string{"memory", "disk"}

func benchEnv(b *testing.B, store string) *testEnv {
	cfg := Config{NamespaceConcurrency: 1000}
	if store == "disk" {
		cfg.DataDir = b.TempDir()
	}
	env := startPlatform(b, cfg)
	mustPut(b, env.c, "noop", &whisk.Action{Exec: &whisk.Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton",
		Binary: true, Code: zipExec(b, "#!/bin/sh\necho '{}'\n")}})
	mustPut(b, env.c, "bbnoop", testAction("noop"))
	mustPut(b, env.c, "conductor", conductorAction())
	return env
}

// zipExec returns a base64 zip holding an executable exec.
func zipExec(t testing.TB, script string) string { return zipFile(t, "exec", script) }

// zipFile is a base64 zip holding one executable file.
func zipFile(t testing.TB, name, script string) string {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = w.Write([]byte(script))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func invokeOnce(b *testing.B, c *whisk.Client, action string, params map[string]any) {
	_, err := c.Invoke(context.Background(), action, params, whisk.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWarmInvoke measures the latency of blocking invocations on warm
// containers, reporting p50 and p99 in milliseconds.
func BenchmarkWarmInvoke(b *testing.B) {
	for _, store := range benchStores {
		env := benchEnv(b, store)
		for _, bc := range benchCases {
			b.Run(store+"/"+bc.name, func(b *testing.B) {
				invokeOnce(b, env.c, bc.action, bc.params) // warm up
				var lat []time.Duration
				for b.Loop() {
					t0 := time.Now()
					invokeOnce(b, env.c, bc.action, bc.params)
					lat = append(lat, time.Since(t0))
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}

// BenchmarkThroughput measures blocking invocations per second with
// several clients at once (GOMAXPROCS × 4 goroutines).
func BenchmarkThroughput(b *testing.B) {
	for _, store := range benchStores {
		env := benchEnv(b, store)
		for _, bc := range benchCases {
			b.Run(store+"/"+bc.name, func(b *testing.B) {
				invokeOnce(b, env.c, bc.action, bc.params)
				b.SetParallelism(4)
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						invokeOnce(b, env.c, bc.action, bc.params)
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "inv/s")
			})
		}
	}
}
