package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Memory limiter names, as Pool.MemoryLimiter reports them.
const (
	LimiterCgroup2 = "cgroup2"     // memory.max in a wskx-owned cgroup v2
	LimiterCgroup1 = "cgroup1"     // memory.limit_in_bytes in a wskx-owned cgroup v1 memory hierarchy
	LimiterRlimit  = "rlimit-data" // RLIMIT_DATA on the container's first process (inherited by its children)
	LimiterNone    = "none"
)

// memLimiter confines a container's memory. One slot per container.
type memLimiter interface {
	name() string
	newSlot(id string, limit int64) (memSlot, error)
	close() error
}

// memSlot is one container's share of a limiter.
type memSlot interface {
	// configure adjusts the process attributes before start (cgroup v2
	// places the process in its cgroup atomically at clone time), and the
	// command for a process that will run as another user.
	configure(attr *syscall.SysProcAttr, argv []string) []string
	// attach applies the limit to the started process.
	attach(pid int) error
	// oomKilled reports whether the kernel killed a process for memory.
	oomKilled() bool
	// killAll kills every process charged to the slot, wherever it moved.
	killAll()
	// path is the slot's cgroup directory, or "" when it has none.
	path() string
	release()
}

// newMemLimiter picks the limiter: "auto" tries cgroup v2, then cgroup v1,
// then RLIMIT_DATA. RLIMIT_AS is never used: DMTCP and Node.js reserve far
// more address space than they touch, so an address-space limit equal to
// the action's memory would break them; RLIMIT_DATA (private writable
// mappings, Linux ≥ 4.7) comes closest to real use among the rlimits.
func newMemLimiter(kind string) (memLimiter, error) {
	switch kind {
	case "", "auto":
		if l, err := newCgroup2(); err == nil {
			return l, nil
		}
		if l, err := newCgroup1(); err == nil {
			return l, nil
		}
		return rlimitLimiter{}, nil
	case LimiterCgroup2:
		return newCgroup2()
	case LimiterCgroup1, "cgroup":
		if l, err := newCgroup2(); err == nil && kind == "cgroup" {
			return l, nil
		}
		return newCgroup1()
	case LimiterRlimit, "rlimit":
		return rlimitLimiter{}, nil
	case LimiterNone:
		return noLimiter{}, nil
	}
	return nil, fmt.Errorf("unknown memory limiter %q", kind)
}

// cgroupMount finds the mount point and root of a cgroup hierarchy and
// this process's path in it. v2 selects the unified hierarchy, else the v1
// hierarchy carrying controller.
func cgroupDir(v2 bool, controller string) (string, error) {
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	var rel string
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(own)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[0] == "0" && parts[1] == "" {
			rel, found = parts[2], true
		}
		if !v2 && containsField(parts[1], controller) {
			rel, found = parts[2], true
		}
	}
	if !found {
		return "", errors.New("no such cgroup hierarchy")
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, x := range fields {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(fields) < sep+3 || len(fields) < 5 {
			continue
		}
		fstype, opts := fields[sep+1], fields[sep+3]
		if v2 && fstype != "cgroup2" || !v2 && (fstype != "cgroup" || !containsField(opts, controller)) {
			continue
		}
		root, mnt := fields[3], fields[4]
		sub, err := filepath.Rel(root, rel)
		if err != nil || strings.HasPrefix(sub, "..") {
			continue
		}
		return filepath.Join(mnt, sub), nil
	}
	return "", errors.New("cgroup hierarchy not mounted")
}

func containsField(list, want string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == want {
			return true
		}
	}
	return false
}

// cgroupLimiter owns dir (wskx-<pid>-<random> under this process's
// cgroup, one per pool) and a child per container.
type cgroupLimiter struct {
	v2  bool
	dir string
}

func newCgroup2() (memLimiter, error) {
	base, err := cgroupDir(true, "")
	if err != nil {
		return nil, err
	}
	ctrl, err := os.ReadFile(filepath.Join(base, "cgroup.controllers"))
	if err != nil || !containsField(strings.ReplaceAll(strings.TrimSpace(string(ctrl)), " ", ","), "memory") {
		return nil, errors.New("cgroup v2 memory controller not available")
	}
	cleanStale(base)
	dir, err := os.MkdirTemp(base, fmt.Sprintf("wskx-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	// The memory controller must be enabled for dir's children; a cgroup v2
	// refuses that when dir (or base, for dir itself) holds processes, which
	// dir never does.
	if err := os.WriteFile(filepath.Join(base, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("enable memory controller: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("enable memory controller: %w", err)
	}
	return &cgroupLimiter{v2: true, dir: dir}, nil
}

func newCgroup1() (memLimiter, error) {
	base, err := cgroupDir(false, "memory")
	if err != nil {
		return nil, err
	}
	cleanStale(base)
	dir, err := os.MkdirTemp(base, fmt.Sprintf("wskx-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte("-1"), 0); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("cgroup v1 memory: %w", err)
	}
	return &cgroupLimiter{dir: dir}, nil
}

// cleanStale removes empty wskx-<pid>-* cgroups left by pools whose
// process is gone.
func cleanStale(base string) {
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "wskx-")
		if !ok || !e.IsDir() {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		n, err := strconv.Atoi(pid)
		if err != nil || n == os.Getpid() || syscall.Kill(n, 0) == nil {
			continue
		}
		dir := filepath.Join(base, e.Name())
		subs, _ := os.ReadDir(dir)
		for _, s := range subs {
			if s.IsDir() {
				os.Remove(filepath.Join(dir, s.Name()))
			}
		}
		os.Remove(dir)
	}
}

func (l *cgroupLimiter) name() string {
	if l.v2 {
		return LimiterCgroup2
	}
	return LimiterCgroup1
}

func (l *cgroupLimiter) newSlot(id string, limit int64) (memSlot, error) {
	dir := filepath.Join(l.dir, id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	s := &cgroupSlot{v2: l.v2, dir: dir}
	var err error
	if l.v2 {
		err = os.WriteFile(filepath.Join(dir, "memory.max"), []byte(strconv.FormatInt(limit, 10)), 0)
		// No swap, as in an OpenWhisk container; absent without swap accounting.
		os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0)
		if err == nil {
			s.fd, err = syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				s.fd = -1
			}
		}
	} else {
		err = os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0)
		// memsw is limit+swap; equal to limit means no swap. Absent without swap accounting.
		os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0)
	}
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("set memory limit: %w", err)
	}
	return s, nil
}

func (l *cgroupLimiter) close() error {
	subs, _ := os.ReadDir(l.dir)
	for _, s := range subs {
		if s.IsDir() {
			os.Remove(filepath.Join(l.dir, s.Name()))
		}
	}
	return os.Remove(l.dir)
}

type cgroupSlot struct {
	v2  bool
	dir string
	fd  int
}

func (s *cgroupSlot) configure(attr *syscall.SysProcAttr, argv []string) []string {
	if s.v2 && s.fd >= 0 {
		attr.UseCgroupFD = true
		attr.CgroupFD = s.fd
	}
	return argv
}

func (s *cgroupSlot) attach(pid int) error {
	if s.v2 && s.fd >= 0 {
		return nil
	}
	// A cgroup v1 move happens after the exec, so the first instructions
	// run outside the limit; nothing of note is allocated by then.
	return os.WriteFile(filepath.Join(s.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

func (s *cgroupSlot) oomKilled() bool {
	name := "memory.oom_control"
	if s.v2 {
		name = "memory.events"
	}
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" {
			n, _ := strconv.Atoi(f[1])
			return n > 0
		}
	}
	return false
}

func (s *cgroupSlot) procs() []int {
	b, err := os.ReadFile(filepath.Join(s.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

func (s *cgroupSlot) killAll() {
	if s.v2 {
		if os.WriteFile(filepath.Join(s.dir, "cgroup.kill"), []byte("1"), 0) == nil {
			return
		}
	}
	// Repeat: a process may fork between reading the list and the kill.
	for i := 0; i < 20; i++ {
		pids := s.procs()
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *cgroupSlot) path() string { return s.dir }

func (s *cgroupSlot) release() {
	if s.fd >= 0 && s.v2 {
		syscall.Close(s.fd)
		s.fd = -1
	}
	for i := 0; i < 50; i++ {
		if err := os.Remove(s.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		s.killAll()
		time.Sleep(10 * time.Millisecond)
	}
}

// rlimitLimiter sets RLIMIT_DATA on the container's first process after
// it starts; children inherit it. It limits each process, not the
// container's total.
type rlimitLimiter struct{}

func (rlimitLimiter) name() string { return LimiterRlimit }
func (rlimitLimiter) newSlot(_ string, limit int64) (memSlot, error) {
	return &rlimitSlot{limit: limit}, nil
}
func (rlimitLimiter) close() error { return nil }

// rlimitSlot applies limit (none when 0).
type rlimitSlot struct {
	limit   int64
	wrapped bool // the process sets the limit itself
}

// configure has a process that will run as another user set its limit
// itself, through the shell's ulimit before it execs the command: setting
// another user's limit from outside takes CAP_SYS_RESOURCE, which root
// lacks in many containers.
func (s *rlimitSlot) configure(attr *syscall.SysProcAttr, argv []string) []string {
	if s.limit <= 0 || attr.Credential == nil {
		return argv
	}
	s.wrapped = true
	kb := strconv.FormatInt(max(s.limit/1024, 1), 10)
	return append([]string{"/bin/sh", "-c", `ulimit -d ` + kb + ` && exec "$@"`, "sh"}, argv...)
}

func (s *rlimitSlot) attach(pid int) error {
	if s.limit <= 0 || s.wrapped {
		return nil
	}
	return setDataLimit(pid, s.limit)
}
func (s *rlimitSlot) oomKilled() bool { return false }
func (s *rlimitSlot) killAll()        {}
func (s *rlimitSlot) path() string    { return "" }
func (s *rlimitSlot) release()        {}

type noLimiter struct{}

func (noLimiter) name() string                           { return LimiterNone }
func (noLimiter) newSlot(string, int64) (memSlot, error) { return &rlimitSlot{}, nil }
func (noLimiter) close() error                           { return nil }

// setDataLimit applies RLIMIT_DATA to a running process.
func setDataLimit(pid int, limit int64) error {
	lim := unix.Rlimit{Cur: uint64(limit), Max: uint64(limit)}
	return unix.Prlimit(pid, unix.RLIMIT_DATA, &lim, nil)
}
