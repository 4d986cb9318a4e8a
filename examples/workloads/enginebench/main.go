// Command enginebench measures checkpoint time, restore time and image
// size against the job's resident memory for the dmtcp and cooperative
// engines, next to the time to copy the same bytes on the same disk
// (copy + fsync). The job is the memhog workload, which touches every page
// of N MB of random data. It prints a markdown table.
//
//	go run ./examples/workloads/enginebench -sizes 10,100,500
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/examples/workloads"
	"github.com/wskx/wskx/examples/workloads/enginetest"
	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/cooperative"
	"github.com/wskx/wskx/runner/dmtcp"
)

func main() {
	sizes := pflag.IntSlice("sizes", []int{10, 100, 500}, "resident memory of the job, MB")
	dir := pflag.String("dir", os.TempDir(), "folder on the disk to measure")
	home := pflag.String("dmtcp-home", "", "DMTCP prefix (default $WSKX_DMTCP_HOME or PATH)")
	runs := pflag.Int("runs", 3, "measurements per cell; the table shows their medians")
	pflag.Parse()
	if err := run(context.Background(), *sizes, *dir, *home, max(*runs, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "enginebench:", err)
		os.Exit(1)
	}
}

type result struct {
	ckpt, restore, copy time.Duration
	bytes               int64
}

func run(ctx context.Context, sizes []int, dir, home string, runs int) error {
	base, err := os.MkdirTemp(dir, "enginebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	bins, err := workloads.Build(ctx, filepath.Join(base, "bin"))
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	engines := []runner.Engine{}
	if e, err := dmtcp.New(dmtcp.Options{Home: home, Logger: quiet}); err == nil {
		engines = append(engines, e)
	} else {
		fmt.Fprintln(os.Stderr, "enginebench: skipping dmtcp:", err)
	}
	coop, _ := cooperative.New(cooperative.Options{Logger: quiet})
	engines = append(engines, coop)

	fmt.Printf("Medians of %d runs.\n\n", runs)
	fmt.Println("| engine | job MB | image MB | checkpoint s | restore s | copy image + fsync s |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	for _, e := range engines {
		for _, mb := range sizes {
			var all []result
			for range runs {
				r, err := measure(ctx, e, bins["memhog"], filepath.Join(base, "job"), mb)
				if err != nil {
					return fmt.Errorf("%s %d MB: %w", e.Name(), mb, err)
				}
				all = append(all, r)
			}
			r := median(all)
			fmt.Printf("| %s | %d | %.0f | %.2f | %.2f | %.2f |\n", e.Name(), mb, float64(r.bytes)/1e6,
				r.ckpt.Seconds(), r.restore.Seconds(), r.copy.Seconds())
		}
	}
	return nil
}

// median takes each figure's median on its own.
func median(rs []result) result {
	pick := func(f func(result) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return result{
		ckpt:    pick(func(r result) time.Duration { return r.ckpt }),
		restore: pick(func(r result) time.Duration { return r.restore }),
		copy:    pick(func(r result) time.Duration { return r.copy }),
		bytes:   rs[len(rs)/2].bytes,
	}
}

// measure fills mb MB, takes a stopping checkpoint, restores it in place
// and copies the image.
func measure(ctx context.Context, e runner.Engine, memhog, root string, mb int) (result, error) {
	var r result
	argv := []string{memhog, strconv.Itoa(mb), "100000", "10"}
	h, err := enginetest.Start(ctx, e, root, argv, nil)
	if err != nil {
		return r, err
	}
	defer h.Proc.Kill()
	if err := ready(ctx, h, 1); err != nil {
		return r, err
	}
	time.Sleep(200 * time.Millisecond)
	// Earlier runs' dirty pages are not this measurement's to write.
	syscall.Sync()
	t0 := time.Now()
	img, err := h.Proc.Checkpoint(ctx, true)
	r.ckpt = time.Since(t0)
	if err != nil {
		return r, err
	}
	r.bytes = img.Bytes
	snap, err := enginetest.Copy(root, img)
	if err != nil {
		return r, err
	}
	syscall.Sync()
	t0 = time.Now()
	if err := copyFiles(root, img.Files); err != nil {
		return r, err
	}
	r.copy = time.Since(t0)
	// Restore in a wiped root from the copy, as a next hop would.
	dirs, err := enginetest.Fresh(root)
	if err != nil {
		return r, err
	}
	if err := snap.Unpack(root); err != nil {
		return r, err
	}
	snap = nil
	out := &enginetest.Buffer{}
	t0 = time.Now()
	p, err := e.Start(ctx, runner.JobSpec{Argv: argv, Stdout: out, Stderr: io.Discard}, dirs, true)
	if err != nil {
		return r, err
	}
	defer p.Kill()
	if e.Name() == "cooperative" {
		// Restored when the job has read its state back.
		if err := ready(ctx, &enginetest.Hop{Proc: p, Stdout: out}, 1); err != nil {
			return r, err
		}
	}
	r.restore = time.Since(t0)
	return r, nil
}

// ready waits until memhog says it has touched its memory.
func ready(ctx context.Context, h *enginetest.Hop, n int) error {
	for strings.Count(h.Stdout.String(), "touched") < n {
		select {
		case <-h.Proc.Done():
			return errors.New("the job ended early")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// copyFiles copies each file next to itself and syncs the copy.
func copyFiles(root string, files []string) error {
	for _, f := range files {
		src, err := os.Open(filepath.Join(root, f))
		if err != nil {
			return err
		}
		dst, err := os.Create(filepath.Join(root, f) + ".copy")
		if err != nil {
			src.Close()
			return err
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if err == nil {
			err = dst.Sync()
		}
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
