// Package redistest starts a Redis server for a test, with the project's
// scripts/redis.sh, on a free loopback port: openwhisk-composer's parallel
// combinators join through one.
package redistest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Hint says how to install the server.
const Hint = "run `make redis` (scripts/redis.sh install: Debian's redis-server)"

// Start starts a private Redis server for t and returns its URL
// (redis://127.0.0.1:PORT); it stops when t ends. Without redis-server
// the test is skipped, saying how to install it.
func Start(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skipf("redis-server is not installed: %s", Hint)
	}
	script, err := scriptPath()
	if err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(t.TempDir(), "redis.env")
	run := func(args ...string) error {
		out, err := exec.Command("bash", append([]string{script}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", script, strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("start", env); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := run("stop", env); err != nil {
			t.Error(err)
		}
	})
	url, err := lookup(env, "WSKX_REDIS_URL")
	if err != nil {
		t.Fatal(err)
	}
	return url
}

func scriptPath() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "scripts", "redis.sh"), nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", fmt.Errorf("redistest: no go.mod above the test's folder")
		}
		d = p
	}
}

// lookup reads one variable of the env file the script writes.
func lookup(path, name string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("redistest: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && k == name {
			return strings.Trim(v, `'"`), nil
		}
	}
	return "", fmt.Errorf("redistest: %s has no %s", path, name)
}
