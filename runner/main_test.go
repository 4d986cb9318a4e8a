package runner_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// workloads is the folder of the example workloads built for this run.
var workloads string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wskx-runner-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workloads = filepath.Join(dir, "bin")
	build := exec.Command("make", "-s", "-C", "../examples/workloads", "BIN="+workloads)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the example workloads:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
