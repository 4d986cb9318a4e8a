package none

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wskx/wskx/runner"
)

// Cmd is a program to launch in a process group of its own.
type Cmd struct {
	Argv   []string
	Dir    string
	Env    []string // the whole environment
	Stdout io.Writer
	Stderr io.Writer
	// NoASLR starts the program with address-space randomisation off
	// (personality ADDR_NO_RANDOMIZE, set on a locked thread only for the
	// fork); DMTCP restarts need it.
	NoASLR bool
}

// waitDelay bounds how long Wait waits for the job's streams after the job
// exited: a background child of the job may hold them open.
const waitDelay = 2 * time.Second

// addrNoRandomize is ADDR_NO_RANDOMIZE from <sys/personality.h>.
const addrNoRandomize = 0x0040000

// Process is one launched program. Its Checkpoint is the engine's.
type Process struct {
	cmd     *exec.Cmd
	done    chan struct{}
	started time.Time

	mu   sync.Mutex
	exit runner.Exit
}

// JobEnv is the runner's environment with the job's extra variables, which
// win.
func JobEnv(extra map[string]string) []string {
	env := os.Environ()
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// Launch starts c. Inherited descriptors above 2 are marked close-on-exec
// first, so that no job holds another's files or sockets.
func Launch(ctx context.Context, c Cmd) (*Process, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("launch: empty command")
	}
	if err := CloseInherited(); err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	cmd.Stdout, cmd.Stderr = orDiscard(c.Stdout), orDiscard(c.Stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = waitDelay
	var err error
	if c.NoASLR {
		err = startNoASLR(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", c.Argv[0], err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), started: time.Now()}
	go p.wait()
	return p, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func (p *Process) wait() {
	_ = p.cmd.Wait()
	var ex runner.Exit
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		ex = runner.Exit{Code: -1, Signal: ws.Signal().String()}
	case ok:
		ex = runner.Exit{Code: ws.ExitStatus()}
	default:
		ex = runner.Exit{Code: p.cmd.ProcessState.ExitCode()}
	}
	p.mu.Lock()
	p.exit = ex
	p.mu.Unlock()
	// The group may outlive its leader; nothing of the job may.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	close(p.done)
}

// startNoASLR forks with randomisation off for the child only: the
// personality is per thread at fork time, so it is set on a locked thread
// and restored before the thread is released.
func startNoASLR(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if errno != 0 {
		return fmt.Errorf("read personality: %w", errno)
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, old|addrNoRandomize, 0, 0); errno != 0 {
		return fmt.Errorf("turn address-space randomisation off (personality; a container's seccomp profile may forbid it): %w", errno)
	}
	err := cmd.Start()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, old, 0, 0); errno != 0 {
		// The thread must not go back to the pool with randomisation off.
		runtime.Goexit()
	}
	return err
}

// CheckNoASLR reports whether this process may start programs with
// address-space randomisation off; container seccomp profiles (Docker's
// default among them) may refuse the personality change.
func CheckNoASLR() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if errno != 0 {
		return fmt.Errorf("read personality: %w", errno)
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, old|addrNoRandomize, 0, 0); errno != 0 {
		return fmt.Errorf("turn address-space randomisation off (personality ADDR_NO_RANDOMIZE; a container's seccomp profile may forbid it): %w", errno)
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, old, 0, 0); errno != 0 {
		runtime.Goexit()
	}
	return nil
}

// CloseInherited marks every open descriptor above 2 close-on-exec.
func CloseInherited() error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list descriptors: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		syscall.CloseOnExec(fd) // the directory's own descriptor is gone by now: harmless
	}
	return nil
}

// Pid is the process id of the launched program (its group's id too).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the program itself (not its group).
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Done is closed when the program has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit is the program's exit; valid once Done is closed.
func (p *Process) Exit() runner.Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Exited reports whether the program has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill kills the program's whole process group.
func (p *Process) Kill() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }

// Started is when the program was launched.
func (p *Process) Started() time.Time { return p.started }

// SetStarted moves the start time, for engines whose job runs only after
// a restore completes.
func (p *Process) SetStarted(t time.Time) { p.started = t }
