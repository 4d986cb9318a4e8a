// Package proctest reads the process table for tests that kill processes
// and check what is left: Linux's /proc, where a zombie counts as gone.
package proctest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Gone reports whether no process has pid; a zombie, which runs nothing
// and waits only to be reaped, counts as gone.
func Gone(pid int) bool {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return true
	}
	st, ok := stat(pid)
	return ok && st.state == "Z"
}

// WaitUntil polls cond for up to limit (a bound, not a speed assertion).
func WaitUntil(limit time.Duration, cond func() bool) bool {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// Select lists the pids of the processes keep accepts, given each one's
// /proc folder.
func Select(keep func(pid int, proc string) bool) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if keep(pid, filepath.Join("/proc", e.Name())) {
			out = append(out, pid)
		}
	}
	return out
}

// Running lists the live processes whose program is path.
func Running(path string) []int {
	return Select(func(pid int, proc string) bool {
		exe, err := os.Readlink(filepath.Join(proc, "exe"))
		return err == nil && exe == path
	})
}

// Parent is a process's parent pid, 0 when it cannot be read.
func Parent(pid int) int {
	st, _ := stat(pid)
	return st.ppid
}

type procStat struct {
	state string
	ppid  int
}

// stat reads the state and parent of a process from /proc/PID/stat. The
// command name may hold spaces and parentheses; the fields after its last
// ")" do not.
func stat(pid int) (procStat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(fields[1])
	return procStat{state: fields[0], ppid: ppid}, true
}
