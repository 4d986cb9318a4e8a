// Package blobtest finds (or starts) the real blob servers the storage and
// checkpoint tests run against: Azurite, versitygw and fake-gcs-server,
// installed and started by scripts/blobservers.sh.
package blobtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Backend is one configured storage server.
type Backend struct {
	Name string // file, azure, s3, gcs
	URL  string
	// Large is the size of the big round-trip object this backend can hold.
	Large int64
}

var names = []struct{ name, env string }{
	{"azure", "WSKX_TEST_AZURE_URL"},
	{"s3", "WSKX_TEST_S3_URL"},
	{"gcs", "WSKX_TEST_GCS_URL"},
}

// InCI reports whether CI is set: then a missing server fails tests.
func InCI() bool { return os.Getenv("CI") != "" && os.Getenv("CI") != "false" }

// LargeEnabled says whether the big-object tests run (always in CI, or
// when WSKX_TEST_LARGE=1).
func LargeEnabled() bool { return InCI() || os.Getenv("WSKX_TEST_LARGE") == "1" }

func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", fmt.Errorf("no go.mod above %s", d)
		}
		d = p
	}
}

func loadEnvFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `'"`)
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	return sc.Err()
}

func configured() bool {
	for _, n := range names {
		if os.Getenv(n.env) == "" {
			return false
		}
	}
	return true
}

// Main runs a test binary's tests with the servers available: it uses the
// WSKX_TEST_*_URL variables if set, else the env file named by
// WSKX_BLOBSERVERS_ENV, else starts private servers with
// scripts/blobservers.sh start (which installs them into the cache first
// when missing) and stops them afterwards. If that fails the tests still
// run: server tests then skip, or fail when CI is set.
func Main(m *testing.M) int {
	if !configured() {
		if p := os.Getenv("WSKX_BLOBSERVERS_ENV"); p != "" {
			if err := loadEnvFile(p); err != nil {
				fmt.Fprintf(os.Stderr, "blobtest: %v\n", err)
			}
		}
	}
	if configured() {
		return m.Run()
	}
	stop, err := startServers()
	if err != nil {
		fmt.Fprintf(os.Stderr, "blobtest: blob servers unavailable: %v\n", err)
		return m.Run()
	}
	code := m.Run()
	stop()
	return code
}

func startServers() (func(), error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "scripts", "blobservers.sh")
	run := func(args ...string) error {
		cmd := exec.Command(script, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	dir, err := os.MkdirTemp("", "wskx-blobtest-")
	if err != nil {
		return nil, err
	}
	envFile := filepath.Join(dir, "servers.env")
	if err := run("start", envFile); err != nil {
		run("stop", envFile)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start: %w", err)
	}
	if err := loadEnvFile(envFile); err != nil {
		run("stop", envFile)
		os.RemoveAll(dir)
		return nil, err
	}
	return func() {
		run("stop", envFile)
		os.RemoveAll(dir)
	}, nil
}

// Backends returns the file backend (in a temp dir) and every server
// backend. A server that is not configured skips its subtests with a
// message, or fails them in CI: callers use Require.
func Backends(t testing.TB) []Backend {
	t.Helper()
	large := int64(16 << 20)
	if LargeEnabled() {
		large = 300 << 20
	}
	out := []Backend{{Name: "file", URL: "file://" + t.TempDir(), Large: large}}
	for _, n := range names {
		b := Backend{Name: n.name, URL: os.Getenv(n.env), Large: large}
		if n.name == "gcs" && large > 100<<20 {
			// fake-gcs-server holds each object whole in memory.
			b.Large = 100 << 20
		}
		out = append(out, b)
	}
	return out
}

// Require skips (or in CI fails) when the backend has no server.
func Require(t testing.TB, b Backend) {
	t.Helper()
	if b.URL != "" {
		return
	}
	msg := fmt.Sprintf("%s blob server not configured (run scripts/blobservers.sh install, or set WSKX_TEST_%s_URL)", b.Name, strings.ToUpper(b.Name))
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
