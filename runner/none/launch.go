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
	Env    []string // the whole environment (nil: JobEnv(nil), never the runner's)
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
	started time.Time // set before Launch returns

	mu   sync.Mutex
	exit runner.Exit
}

// DefaultPath is the job's PATH when its environment has none: Debian's
// default for root, which finds the usual shells and tools.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// JobEnv is exactly env as a process environment, with DefaultPath as
// PATH when env has none. Nothing comes from the runner's own environment:
// the container's (cloud credentials, WSKX_ENCRYPTION_KEY, __OW_API_KEY)
// must not reach the job, and DMTCP saves the job's environment in every
// image.
func JobEnv(env map[string]string) []string {
	out := make([]string, 0, len(env)+1)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	if _, ok := env["PATH"]; !ok {
		out = append(out, "PATH="+DefaultPath)
	}
	return out
}

// Launch starts c. Inherited descriptors above 2 are marked close-on-exec
// first, so that no job holds another's files or sockets.
//
// The program gets SIGKILL when the runner dies (Pdeathsig), so that a
// killed step container leaves no job, coordinator or restart behind: they
// are in process groups of their own, and nothing else would end them.
// The kernel sends that signal when the *thread* that forked the child
// exits, not the process, so the fork happens on a goroutine locked to
// its thread, which keeps the thread until the program has been reaped
// and only then unlocks it (back to the pool, alive). Go ends a thread only
// when a goroutine locked to it returns still locked; without the lock,
// the fork would happen on some pooled thread that such a goroutine (ours
// or a library's) could later end, killing the job mid-hop.
func Launch(ctx context.Context, c Cmd) (*Process, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("launch: empty command")
	}
	if err := CloseInherited(); err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	if cmd.Env == nil {
		// exec.Cmd reads nil as "the runner's environment".
		cmd.Env = JobEnv(nil)
	}
	cmd.Stdout, cmd.Stderr = orDiscard(c.Stdout), orDiscard(c.Stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = waitDelay
	p := &Process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go p.run(c.NoASLR, started)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("launch %s: %w", c.Argv[0], err)
	}
	return p, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// run starts the program on a locked thread and keeps that thread until
// the program has been reaped (see Launch), reporting the start on
// started. The wait itself runs on another goroutine: a locked goroutine
// blocked in wait4 would hold its scheduler slot in a system call, and
// delay the timers queued there, for the whole life of the job; parked on
// a channel, it gives the slot up at once.
func (p *Process) run(noASLR bool, started chan<- error) {
	runtime.LockOSThread()
	var err error
	tainted := false // the thread's personality could not be restored
	if noASLR {
		tainted, err = startNoASLR(p.cmd)
	} else {
		err = p.cmd.Start()
	}
	if err == nil {
		p.started = time.Now()
		go p.wait()
	}
	started <- err
	if err == nil {
		<-p.done
	}
	// A thread left with randomisation off must not run other goroutines:
	// returning while locked makes the runtime end it, which is harmless
	// once the program has been reaped (or was never started).
	if !tainted {
		runtime.UnlockOSThread()
	}
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
// personality is per thread at fork time, so it is set on the calling
// goroutine's thread, which must be locked, and restored after the fork.
// tainted reports that the restore failed and the thread must not be
// unlocked.
func startNoASLR(cmd *exec.Cmd) (tainted bool, err error) {
	old, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if errno != 0 {
		return false, fmt.Errorf("read personality: %w", errno)
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, old|addrNoRandomize, 0, 0); errno != 0 {
		return false, fmt.Errorf("turn address-space randomisation off (personality; a container's seccomp profile may forbid it): %w", errno)
	}
	err = cmd.Start()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, old, 0, 0); errno != 0 {
		return true, err
	}
	return false, err
}

// CheckNoASLR reports whether this process may start programs with
// address-space randomisation off; container seccomp profiles (Docker's
// default among them) may refuse the personality change.
func CheckNoASLR() error {
	res := make(chan error, 1)
	// On a goroutine of its own, which can end its thread if the
	// personality cannot be put back.
	go func() {
		runtime.LockOSThread()
		old, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, 0xffffffff, 0, 0)
		if errno != 0 {
			runtime.UnlockOSThread()
			res <- fmt.Errorf("read personality: %w", errno)
			return
		}
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, old|addrNoRandomize, 0, 0); errno != 0 {
			runtime.UnlockOSThread()
			res <- fmt.Errorf("turn address-space randomisation off (personality ADDR_NO_RANDOMIZE; a container's seccomp profile may forbid it): %w", errno)
			return
		}
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, old, 0, 0); errno != 0 {
			res <- fmt.Errorf("restore personality: %w", errno)
			return // still locked: the runtime ends the thread
		}
		runtime.UnlockOSThread()
		res <- nil
	}()
	return <-res
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
