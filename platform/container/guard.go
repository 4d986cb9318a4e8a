package container

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
)

// spawner starts the pool's container processes from one goroutine locked
// to its OS thread for the pool's lifetime.
//
// Every container's first process gets Pdeathsig = SIGKILL, so that it dies
// with the platform even when the platform is killed and cannot clean up.
// Linux sends that signal when the *thread* that forked the child exits,
// not the process. A Go program's threads come and go under the
// goroutines: a goroutine that locks its thread and returns without
// unlocking makes the runtime end that thread, and any child forked from
// it earlier, by whatever goroutine, would be killed then, long before the
// platform stops. Forking only from a thread that no other goroutine ever
// runs on, and that lives until the pool closes, rules that out. When the
// pool closes the goroutine returns still locked, the runtime ends the
// thread, and whatever container process outlived Close dies with it.
type spawner struct {
	reqs chan spawnReq
	stop chan struct{}
	done chan struct{}
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *spawner) loop() {
	runtime.LockOSThread()
	// No UnlockOSThread: see the type's comment.
	defer close(s.done)
	for {
		select {
		case req := <-s.reqs:
			req.err <- req.cmd.Start()
		case <-s.stop:
			return
		}
	}
}

// start runs cmd.Start on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	req := spawnReq{cmd: cmd, err: make(chan error, 1)}
	select {
	case s.reqs <- req:
		return <-req.err
	case <-s.stop:
		return errPoolClosed
	}
}

func (s *spawner) close() {
	close(s.stop)
	<-s.done
}

// guardScript is the guard's program. It reads "+ PGID", "- PGID",
// "+c DIR" and "-c DIR" lines that keep the live containers' process
// groups and cgroups, and "+d DIR" lines naming the pool's own
// directories; at end of input, which comes when the pool's process exits
// however it exits, it kills what is left and removes those directories
// (the pool has removed them already when it closed). It ignores the
// terminal's SIGINT and SIGHUP, which would otherwise reach it with the
// platform.
const guardScript = `trap '' INT HUP
groups=' '
cgroups=' '
dirs=''
drop() { out=' '; for x in $1; do [ "$x" = "$2" ] || out="$out$x "; done; }
while read -r op arg; do
	case $op in
	+) groups="$groups$arg " ;;
	-) drop "$groups" "$arg"; groups=$out ;;
	+c) cgroups="$cgroups$arg " ;;
	-c) drop "$cgroups" "$arg"; cgroups=$out ;;
	+d) dirs="$dirs$arg
" ;;
	esac
done
for g in $groups; do kill -9 "-$g" 2>/dev/null; done
for c in $cgroups; do
	echo 1 > "$c/cgroup.kill" 2>/dev/null && continue
	for i in 1 2 3; do
		for p in $(cat "$c/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
done
printf '%s' "$dirs" | while IFS= read -r d; do [ -n "$d" ] && rm -rf -- "$d"; done
`

// guard is a small process outside every container that kills the
// containers' process groups and cgroups once the pool's process is gone.
// Pdeathsig reaches only a container's first process; what that process
// started (a native action's executable, a job and its children) would
// otherwise live on. The guard learns of the pool's death from its stdin:
// the kernel closes the pipe's write end when the pool's process exits.
type guard struct {
	log *slog.Logger

	mu     sync.Mutex
	w      io.WriteCloser // nil once the guard is gone
	cmd    *exec.Cmd
	warned bool
}

// newGuard starts the guard. Without /bin/sh the pool runs unguarded: the
// containers' first processes still die with it.
func newGuard(log *slog.Logger) *guard {
	g := &guard{log: log}
	cmd := exec.Command("/bin/sh", "-c", guardScript)
	// Its own process group keeps it out of the signals sent to the
	// platform's group; no Pdeathsig, it must outlive the platform.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		log.Warn("no container guard: a killed platform may leave container processes behind", "err", err)
		return g
	}
	g.w, g.cmd = w, cmd
	return g
}

func (g *guard) send(line string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w == nil {
		return
	}
	if _, err := io.WriteString(g.w, line+"\n"); err != nil && !g.warned {
		g.warned = true
		g.log.Warn("container guard gone: a killed platform may leave container processes behind", "err", err)
	}
}

// watch hands the guard a container's process group and, when it has one,
// cgroup directory.
func (g *guard) watch(pgid int, cgroup string) {
	g.send("+ " + strconv.Itoa(pgid))
	if cgroup != "" {
		g.send("+c " + cgroup)
	}
}

// removeAtDeath has the guard remove dir, one of the pool's own, if the
// pool's process dies without closing the pool.
func (g *guard) removeAtDeath(dir string) {
	g.send("+d " + dir)
}

// forget takes a killed container off the guard's lists, so that a later
// process reusing its ids is not hit.
func (g *guard) forget(pgid int, cgroup string) {
	g.send("- " + strconv.Itoa(pgid))
	if cgroup != "" {
		g.send("-c " + cgroup)
	}
}

// close ends the guard; the pool has killed every container by then, so
// its lists are empty.
func (g *guard) close() error {
	g.mu.Lock()
	w, cmd := g.w, g.cmd
	g.w = nil
	g.mu.Unlock()
	if w == nil {
		return nil
	}
	err := w.Close()
	var exitErr *exec.ExitError
	if werr := cmd.Wait(); werr != nil && !errors.As(werr, &exitErr) && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("container guard: %w", err)
	}
	return nil
}
