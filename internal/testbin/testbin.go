// Package testbin builds what end-to-end tests run on the built-in
// platform: the wskx binary its containers execute as `wskx proxy`, and
// the example workloads in examples/workloads/bin, where the example
// policies name them.
package testbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/wskx/wskx/examples/workloads"
)

// Build compiles wskx into a temporary folder and the workloads into
// examples/workloads/bin. It returns the wskx binary and a cleanup.
func Build(ctx context.Context) (wskx string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "wskx-testbin-")
	if err != nil {
		return "", nil, fmt.Errorf("testbin: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	wskx = filepath.Join(dir, "wskx")
	root := filepath.Join(workloads.Source(), "..", "..")
	build := exec.CommandContext(ctx, "go", "build", "-o", wskx, "./cmd/wskx")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("testbin: build wskx: %w: %s", err, out)
	}
	if _, err := workloads.Build(ctx, filepath.Join(workloads.Source(), "bin")); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("testbin: %w", err)
	}
	return wskx, cleanup, nil
}
