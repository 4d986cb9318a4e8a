package platform

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wskx/wskx/internal/proctest"
	"github.com/wskx/wskx/whisk"
)

// TestPlatformDeathKillsContainers kills a platform with SIGKILL while an
// action runs and checks that the action's container process, its
// executable and a child that executable left behind all die with it.
func TestPlatformDeathKillsContainers(t *testing.T) {
	// World-writable: the action may run as an unprivileged user.
	dir, err := os.MkdirTemp("", "platform-death-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], servePlatformArg)
	cmd.Env = append(os.Environ(), "WSKX_TEST_CACHE="+cacheDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("platform did not start: %v", err)
	}
	url, key, _ := strings.Cut(strings.TrimSpace(line), " ")
	c := clientFor(t, url, key, "")

	pidFile := filepath.Join(dir, "pids")
	script := fmt.Sprintf("#!/bin/sh\nsleep 300 </dev/null >/dev/null 2>&1 &\necho \"$PPID $$ $!\" > %[1]s.tmp && mv %[1]s.tmp %[1]s\nexec sleep 301\n", pidFile)
	mustPut(t, c, "long", &whisk.Action{Exec: &whisk.Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton", Code: zipExec(t, script)},
		Limits: &whisk.Limits{Timeout: 300000}})
	if _, err := c.Invoke(ctxT(t), "long", nil, whisk.InvokeOptions{}); err != nil {
		t.Fatal(err)
	}
	var pids []int
	if !proctest.WaitUntil(20*time.Second, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		for _, f := range strings.Fields(string(b)) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("pids %q", b)
			}
			pids = append(pids, n)
		}
		return true
	}) {
		t.Fatal("the action never started")
	}
	names := []string{"container (skeleton)", "executable", "its child"}
	for i, pid := range pids {
		if proctest.Gone(pid) {
			t.Fatalf("%s (pid %d) is not running before the kill", names[i], pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	for i, pid := range pids {
		if !proctest.WaitUntil(5*time.Second, func() bool { return proctest.Gone(pid) }) {
			t.Errorf("%s (pid %d) still runs 5 s after the platform was killed", names[i], pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
