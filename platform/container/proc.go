package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sentinel is the line an action container writes to stdout and stderr
// after each activation.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// logTimeFormat is RFC 3339 with fixed nanoseconds: 30 characters in UTC,
// as Docker stamps the lines OpenWhisk stores.
const logTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// proc is one container: a process group listening on a loopback port.
type proc struct {
	id     string
	key    string
	cmd    *exec.Cmd
	pid    int
	url    string
	dir    string // the container's own directory
	slot   memSlot
	guard  *guard
	exited chan struct{} // closed once the first process has exited

	sentinelled bool // the runtime writes the sentinel after every activation
	logs        *logSink

	// guarded by Pool.mu
	busy     bool
	lastUsed time.Time

	killOnce sync.Once
}

type logLine struct {
	at     time.Time
	stream string
	text   string
}

// logSink gathers a container's output per stream; lines wait there until
// an activation takes them.
type logSink struct {
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	streams  [2]streamBuf
	everSeen bool // a sentinel has been seen on some stream
}

type streamBuf struct {
	name  string
	lines []logLine
	sent  int // sentinels in lines (stored as text == Sentinel)
	eof   bool
}

func newLogSink() *logSink {
	return &logSink{changed: make(chan struct{}), streams: [2]streamBuf{{name: "stdout"}, {name: "stderr"}}}
}

func (s *logSink) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// read copies r's lines into stream i until EOF.
func (s *logSink) read(i int, r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			text := strings.TrimRight(line, "\r\n")
			s.mu.Lock()
			st := &s.streams[i]
			st.lines = append(st.lines, logLine{at: time.Now(), stream: st.name, text: text})
			if text == Sentinel {
				st.sent++
				s.everSeen = true
			}
			s.notify()
			s.mu.Unlock()
		}
		if err != nil {
			s.mu.Lock()
			s.streams[i].eof = true
			s.notify()
			s.mu.Unlock()
			return
		}
	}
}

// take waits up to wait for a sentinel on both streams (or their end) and
// returns the lines before it, merged by time; complete reports whether
// both sentinels (or EOFs) arrived. A zero wait takes what is there.
func (s *logSink) take(wait time.Duration) (lines []logLine, complete bool) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	s.mu.Lock()
	for {
		done := true
		for i := range s.streams {
			if s.streams[i].sent == 0 && !s.streams[i].eof {
				done = false
			}
		}
		if done || wait <= 0 {
			complete = done
			break
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
			continue
		case <-timer.C:
		}
		s.mu.Lock()
		wait = 0
	}
	for i := range s.streams {
		st := &s.streams[i]
		n := len(st.lines)
		cut := n
		if st.sent > 0 {
			for j, l := range st.lines {
				if l.text == Sentinel {
					n, cut = j, j+1
					st.sent--
					break
				}
			}
		}
		lines = append(lines, st.lines[:n]...)
		st.lines = append([]logLine(nil), st.lines[cut:]...)
	}
	s.mu.Unlock()
	// A stray sentinel (one that arrived after an earlier give-up) is dropped.
	out := lines[:0]
	for _, l := range lines {
		if l.text != Sentinel {
			out = append(out, l)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].at.Before(out[b].at) })
	return out, complete
}

func (s *logSink) sawSentinel() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.everSeen
}

// formatLogs renders lines as OpenWhisk stores them, cut at limit bytes
// with OpenWhisk's truncation notice; truncated reports the cut.
func formatLogs(lines []logLine, limit int) (out []string, truncated bool) {
	out = []string{}
	size := 0
	for _, l := range lines {
		text := strings.TrimSpace(l.text)
		size += len(text)
		if limit > 0 && size > limit {
			out = append(out, logEntry(time.Now(), "stderr",
				fmt.Sprintf("Logs were truncated because the total bytes size exceeds the limit of %d bytes.", limit)))
			return out, true
		}
		out = append(out, logEntry(l.at, l.stream, text))
	}
	return out, false
}

func logEntry(at time.Time, stream, text string) string {
	return at.UTC().Format(logTimeFormat) + " " + stream + ": " + text
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the container binds it; start retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// procSpec is how to start one container process.
type procSpec struct {
	argv         []string
	port         int
	dir          string
	env          []string
	slot         memSlot
	cred         *syscall.Credential // nil: the pool's own user
	startTimeout time.Duration
}

// startProc starts ps.argv as a new process group in ps.dir, applies the
// memory slot, hands the group to the guard, and waits until the port
// accepts connections.
func (pl *Pool) startProc(ctx context.Context, ps procSpec) (*proc, error) {
	argv, port, dir, env, slot, startTimeout := ps.argv, ps.port, ps.dir, ps.env, ps.slot, ps.startTimeout
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdoutR.Close()
		stdoutW.Close()
		return nil, err
	}
	// Pdeathsig ends the container's first process if the pool's process
	// dies without Close; the spawner's thread makes that hold (see
	// spawner), the guard takes care of the rest of the group. A change
	// of credentials clears Pdeathsig, but Go sets it after the change.
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: ps.cred}
	argv = slot.configure(attr, argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = stdoutW
	cmd.Stderr = stderrW
	cmd.SysProcAttr = attr
	err = pl.spawn.start(cmd)
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdoutR.Close()
		stderrR.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, dir: dir, slot: slot, guard: pl.guard, exited: make(chan struct{}), logs: newLogSink(),
		url: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	go p.logs.read(0, stdoutR)
	go p.logs.read(1, stderrR)
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	pl.guard.watch(p.pid, slot.path())
	if err := slot.attach(p.pid); err != nil {
		p.kill()
		return nil, fmt.Errorf("memory limit: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(startTimeout)
	delay := 2 * time.Millisecond
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.exited:
			lines, _ := p.logs.take(100 * time.Millisecond)
			var tail []string
			for _, l := range lines {
				tail = append(tail, l.text)
			}
			p.kill()
			return nil, fmt.Errorf("%w: %s", errExitedEarly, lastN(tail, 5))
		case <-ctx.Done():
			p.kill()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("not listening on port %d after %v", port, startTimeout)
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

var errExitedEarly = errors.New("container exited before listening")

func lastN(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// kill ends the whole process group and everything in the memory slot,
// and waits for the first process to be reaped.
func (p *proc) kill() {
	p.killOnce.Do(func() {
		syscall.Kill(-p.pid, syscall.SIGKILL)
		p.slot.killAll()
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
		}
		// Children that left the group (setsid) are caught by the cgroup.
		syscall.Kill(-p.pid, syscall.SIGKILL)
		p.guard.forget(p.pid, p.slot.path())
		p.slot.release()
	})
}

// alive reports whether the container's first process still runs.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}
