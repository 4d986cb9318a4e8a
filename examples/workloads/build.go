// Package workloads builds the example C workloads (count, factors,
// matrix, memhog) for tests and benchmarks. The programs and their
// cooperative checkpoint protocol are described in README.md.
package workloads

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Names are the workloads the Makefile builds.
var Names = []string{"count", "factors", "matrix", "memhog"}

// Source is the folder holding the workloads' sources.
func Source() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Build compiles every workload with make and gcc into dir and returns
// their paths by name.
func Build(ctx context.Context, dir string) (map[string]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build workloads: %w", err)
	}
	cmd := exec.CommandContext(ctx, "make", "-s", "-C", Source(), "BIN="+abs)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build workloads (make, gcc): %w: %s", err, out)
	}
	bins := map[string]string{}
	for _, n := range Names {
		bins[n] = filepath.Join(abs, n)
	}
	return bins, nil
}
