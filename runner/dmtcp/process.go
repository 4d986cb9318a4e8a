package dmtcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/cooperative"
	"github.com/wskx/wskx/runner/none"
)

// dmtcpFailRC is the status DMTCP exits with when one of its assertions fails.
const dmtcpFailRC = 99

// pollEvery is how often the port file and the status are polled.
const pollEvery = 20 * time.Millisecond

// Start launches the job under a fresh coordinator, or restarts it from
// the images in dirs.Ckpt.
func (e *Engine) Start(ctx context.Context, spec runner.JobSpec, dirs runner.Dirs, restore bool) (runner.Process, error) {
	// DMTCP creates only one level of folders, and a missing parent kills
	// the job at checkpoint time.
	for _, d := range []string{dirs.Work, dirs.Ckpt, dirs.Tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("dmtcp: %w", err)
		}
	}
	var images []string
	if restore {
		var err error
		if images, err = filepath.Glob(filepath.Join(dirs.Ckpt, "ckpt_*.dmtcp")); err != nil || len(images) == 0 {
			return nil, fmt.Errorf("dmtcp: no checkpoint image (ckpt_*.dmtcp) in %s", dirs.Ckpt)
		}
	}
	c, err := e.startCoordinator(ctx, spec, dirs)
	if err != nil {
		return nil, err
	}
	p := &Process{e: e, dirs: dirs, coord: c, stderr: &tail{w: spec.Stderr}, env: toolEnv(spec, dirs)}
	common := []string{"--coord-port", strconv.Itoa(c.port), "--join-coordinator"}
	paths := []string{"--ckptdir", dirs.Ckpt, "--tmpdir", dirs.Tmp}
	// dmtcp_launch execs into the job and dmtcp_restart becomes it: their
	// environment is the job's, which DMTCP saves in every image.
	cmd := none.Cmd{Dir: dirs.Work, Env: none.JobEnv(spec.Env), Stdout: spec.Stdout, Stderr: p.stderr}
	peers := 1
	if restore {
		cmd.Argv = append(append(append([]string{e.bin["dmtcp_restart"]}, common...), "--no-strict-checking"), paths...)
		cmd.Argv = append(cmd.Argv, images...)
		cmd.NoASLR = true
		peers = len(images)
	} else {
		cmd.Argv = append(append(append([]string{e.bin["dmtcp_launch"]}, common...), "--no-gzip"), paths...)
		cmd.Argv = append(append(cmd.Argv, "--"), spec.Argv...)
	}
	if p.job, err = none.Launch(ctx, cmd); err != nil {
		c.kill()
		return nil, fmt.Errorf("dmtcp: %w", err)
	}
	go func() {
		<-p.job.Done()
		c.kill()
		if err := p.Failure(); err != nil {
			e.log.Warn("DMTCP failed", "err", err)
		}
	}()
	if err := p.comeUp(ctx, peers, restore); err != nil {
		p.Kill()
		<-p.job.Done()
		return nil, err
	}
	p.job.SetStarted(time.Now())
	e.log.Debug("job running under DMTCP", "restore", restore, "port", c.port, "pid", p.job.Pid())
	return p, nil
}

// coordinator is one hop's dmtcp_coordinator.
type coordinator struct {
	proc *none.Process
	port int
	log  string
}

// toolEnv is the environment of DMTCP's own programs that do not become
// the job (the coordinator, dmtcp_command): the job's PATH and nothing
// else of it or of the runner, whose secrets they have no use for. TMPDIR
// is the hop's temp folder: the coordinator ignores its --tmpdir for its
// log (it reads DMTCP_TMPDIR, then TMPDIR, then uses /tmp), which would
// otherwise leave a file in /tmp per hop.
func toolEnv(spec runner.JobSpec, dirs runner.Dirs) []string {
	env := map[string]string{"TMPDIR": dirs.Tmp}
	if path, ok := spec.Env["PATH"]; ok {
		env["PATH"] = path
	}
	return none.JobEnv(env)
}

func (e *Engine) startCoordinator(ctx context.Context, spec runner.JobSpec, dirs runner.Dirs) (*coordinator, error) {
	portFile := filepath.Join(dirs.Tmp, "coordinator.port")
	logPath := filepath.Join(dirs.Tmp, "coordinator.log")
	_ = os.Remove(portFile)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("dmtcp: coordinator log: %w", err)
	}
	defer logf.Close()
	// Launched like the job: in a process group of its own, dying with the
	// runner, stdin from /dev/null.
	proc, err := none.Launch(ctx, none.Cmd{
		Argv: []string{e.bin["dmtcp_coordinator"], "--coord-port", "0", "--port-file", portFile,
			"--exit-on-last", "--ckptdir", dirs.Ckpt, "--tmpdir", dirs.Tmp},
		Dir: dirs.Tmp, Env: toolEnv(spec, dirs), Stdout: logf, Stderr: logf,
	})
	if err != nil {
		return nil, fmt.Errorf("dmtcp: start coordinator: %w", err)
	}
	c := &coordinator{proc: proc, log: logPath}
	deadline := time.NewTimer(e.upTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery / 4)
	defer tick.Stop()
	for {
		// The file may be briefly empty while the coordinator writes it.
		if b, err := os.ReadFile(portFile); err == nil {
			if port, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && port > 0 {
				c.port = port
				return c, nil
			}
		}
		select {
		case <-proc.Done():
			return nil, fmt.Errorf("dmtcp: the coordinator exited at start: %s", lastLines(logPath, 5))
		case <-deadline.C:
			c.kill()
			return nil, fmt.Errorf("dmtcp: the coordinator wrote no port within %s", e.upTimeout)
		case <-ctx.Done():
			c.kill()
			return nil, fmt.Errorf("dmtcp: start coordinator: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// kill ends the coordinator's process group (it ignores SIGTERM).
func (c *coordinator) kill() {
	c.proc.Kill()
	<-c.proc.Done()
}

// status is dmtcp_command --json --status's answer.
type status struct {
	CommandStatus string `json:"command_status"`
	NumPeers      int    `json:"num_peers"`
	Running       bool   `json:"running"`
}

// command runs dmtcp_command against the hop's coordinator.
func (p *Process) command(ctx context.Context, args ...string) (int, []byte, error) {
	argv := append([]string{"--coord-port", strconv.Itoa(p.coord.port), "--json"}, args...)
	cmd := exec.CommandContext(ctx, p.e.bin["dmtcp_command"], argv...)
	cmd.Env = p.env
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return ee.ExitCode(), out, nil
	}
	if err != nil {
		return -1, out, err
	}
	return 0, out, nil
}

// comeUp waits until the coordinator reports the job running with all its
// processes, or the job exits.
func (p *Process) comeUp(ctx context.Context, peers int, restore bool) error {
	ctx, cancel := context.WithTimeout(ctx, p.e.upTimeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if rc, out, err := p.command(ctx, "--status"); err == nil && rc == 0 {
			var st status
			if json.Unmarshal(out, &st) == nil && st.Running && st.NumPeers >= peers {
				return nil
			}
		}
		select {
		case <-p.job.Done():
			if err := p.Failure(); err != nil {
				return err
			}
			// A job may well end at once; its exit is its result.
			return nil
		case <-ctx.Done():
			if restore {
				return fmt.Errorf("dmtcp: %w: the restart did not show %d running process(es) within %s (a truncated or damaged image spins forever): %s",
					ErrNotRunning, peers, p.e.upTimeout, p.stderr.last())
			}
			return fmt.Errorf("dmtcp: %w: the job did not connect to the coordinator within %s (a statically linked program, such as a Go binary, cannot run under DMTCP: use the cooperative engine): %s",
				ErrNotRunning, p.e.upTimeout, p.stderr.last())
		case <-tick.C:
		}
	}
}

// Process is a job running under DMTCP.
type Process struct {
	e      *Engine
	dirs   runner.Dirs
	coord  *coordinator
	job    *none.Process
	stderr *tail
	env    []string // dmtcp_command's environment (toolEnv)

	mu           sync.Mutex // one checkpoint at a time
	checkpointed atomic.Bool
}

// Done is closed when the job has exited.
func (p *Process) Done() <-chan struct{} { return p.job.Done() }

// Exit is the job's exit; Checkpointed after a completed stop checkpoint,
// EngineFailed when DMTCP failed rather than the job.
func (p *Process) Exit() runner.Exit {
	ex := p.job.Exit()
	ex.Checkpointed = p.checkpointed.Load()
	ex.EngineFailed = p.Failure() != nil
	return ex
}

// Kill kills the job's and the coordinator's process groups.
func (p *Process) Kill() {
	p.job.Kill()
	p.coord.kill()
}

// Started is when the job was seen running this hop.
func (p *Process) Started() time.Time { return p.job.Started() }

// Failure returns ErrDMTCPFailed, with DMTCP's message, when the job ended
// because DMTCP failed (status 99 and an ASSERT on stderr); nil otherwise.
func (p *Process) Failure() error {
	if !p.job.Exited() {
		return nil
	}
	ex := p.job.Exit()
	if failed, line := dmtcpFailed(ex, p.stderr.lines()); failed {
		return fmt.Errorf("dmtcp: %w: %s", ErrDMTCPFailed, line)
	}
	return nil
}

// assertRE matches DMTCP's assertion messages: "ASSERT at processinfo.cpp:468:
// ..." from recent releases, "JASSERT(getcwd(...) != NULL) failed" from
// older ones. A job's own assert(3) message looks like neither.
var assertRE = regexp.MustCompile(`\bASSERT at [^\s:]+:\d+|\bJASSERT\b`)

// dmtcpFailed tells DMTCP failing from the job failing: DMTCP exits with
// status 99 after one of its assertions, and says which on stderr. It
// returns the last such line.
func dmtcpFailed(ex runner.Exit, stderr []string) (bool, string) {
	if ex.Code != dmtcpFailRC || ex.Signal != "" {
		return false, ""
	}
	for i := len(stderr) - 1; i >= 0; i-- {
		if assertRE.MatchString(stderr[i]) {
			return true, strings.TrimSpace(stderr[i])
		}
	}
	return false, ""
}

// Checkpoint takes a checkpoint (see the package comment for how).
func (p *Process) Checkpoint(ctx context.Context, stop bool) (runner.Image, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.job.Exited() {
		return runner.Image{}, runner.ErrExited
	}
	before := inodes(p.dirs.Ckpt)
	ctx, cancel := context.WithTimeout(ctx, p.e.ckptTimeout)
	defer cancel()
	verb := "--bcheckpoint"
	if stop {
		verb = "--kcheckpoint"
	}
	type answer struct {
		rc  int
		out []byte
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		rc, out, err := p.command(ctx, verb)
		ch <- answer{rc, out, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		return p.timedOut(ctx)
	}
	if a.err != nil || a.rc != 0 {
		// Most often the job ended before the request; only our own wait
		// on it can say so.
		select {
		case <-p.job.Done():
			return runner.Image{}, runner.ErrExited
		case <-time.After(2 * time.Second):
		}
		if a.err == nil {
			a.err = fmt.Errorf("status %d: %s", a.rc, strings.TrimSpace(string(a.out)))
		}
		return runner.Image{}, fmt.Errorf("dmtcp: checkpoint: dmtcp_command %s: %w", verb, a.err)
	}
	var st status
	_ = json.Unmarshal(a.out, &st)
	if stop {
		// Each process exits once its image is written.
		select {
		case <-p.job.Done():
		case <-ctx.Done():
			return p.timedOut(ctx)
		}
	}
	fresh, err := p.fresh(before)
	if err != nil {
		return runner.Image{}, err
	}
	if stop {
		ex := p.job.Exit()
		if len(fresh) == 0 || ex.Code != 0 || ex.Signal != "" {
			// The job ended on its own first: its exit wins.
			p.e.log.Debug("stop checkpoint: the job's exit wins", "fresh", len(fresh), "exit", ex)
			return runner.Image{}, runner.ErrExited
		}
		p.checkpointed.Store(true)
	} else if len(fresh) == 0 {
		if p.job.Exited() {
			return runner.Image{}, runner.ErrExited
		}
		return runner.Image{}, fmt.Errorf("dmtcp: checkpoint: dmtcp_command succeeded but no image was written in %s", p.dirs.Ckpt)
	}
	if len(fresh) < st.NumPeers {
		// Short-lived children (a shell's commands) may be counted at the
		// start and gone before their image: the coordinator's success is
		// what counts.
		p.e.log.Debug("fewer images than processes at the checkpoint's start", "images", len(fresh), "peers", st.NumPeers)
	}
	return p.image(fresh)
}

// timedOut ends a job whose checkpoint did not complete: it may be left
// suspended.
func (p *Process) timedOut(ctx context.Context) (runner.Image, error) {
	p.Kill()
	return runner.Image{}, fmt.Errorf("dmtcp: checkpoint did not complete (limit %s); the job was killed: %w", p.e.ckptTimeout, context.Cause(ctx))
}

// inodes maps each image in dir to its inode.
func inodes(dir string) map[string]uint64 {
	m := map[string]uint64{}
	paths, _ := filepath.Glob(filepath.Join(dir, "ckpt_*.dmtcp"))
	for _, path := range paths {
		if info, err := os.Stat(path); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				m[path] = st.Ino
			}
		}
	}
	return m
}

// fresh lists the images written since before: DMTCP writes an image under
// a temporary name and renames it into place, so a new inode means a whole
// new image.
func (p *Process) fresh(before map[string]uint64) ([]string, error) {
	var out []string
	for path, ino := range inodes(p.dirs.Ckpt) {
		if old, ok := before[path]; !ok || old != ino {
			out = append(out, path)
		}
	}
	return out, nil
}

// image lists the fresh images, the ckpt_*_files folders and the working
// directory, relative to the root.
func (p *Process) image(fresh []string) (runner.Image, error) {
	var img runner.Image
	for _, path := range fresh {
		info, err := os.Stat(path)
		if err != nil {
			return runner.Image{}, fmt.Errorf("dmtcp: checkpoint: %w", err)
		}
		rel, err := filepath.Rel(p.dirs.Root, path)
		if err != nil {
			return runner.Image{}, fmt.Errorf("dmtcp: checkpoint: %w", err)
		}
		img.Files = append(img.Files, rel)
		img.Bytes += info.Size()
	}
	dirs, _ := filepath.Glob(filepath.Join(p.dirs.Ckpt, "ckpt_*_files"))
	rest, err := cooperative.ListFiles(p.dirs.Root, append(dirs, p.dirs.Work)...)
	if err != nil {
		return runner.Image{}, fmt.Errorf("dmtcp: checkpoint: %w", err)
	}
	img.Files = append(img.Files, rest.Files...)
	img.Bytes += rest.Bytes
	return img, nil
}

// tail passes writes through and keeps the last bytes for diagnosis.
type tail struct {
	w  io.Writer
	mu sync.Mutex
	b  []byte
}

const tailKeep = 16 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.b = append(t.b, b...)
	if len(t.b) > tailKeep {
		t.b = append(t.b[:0], t.b[len(t.b)-tailKeep:]...)
	}
	t.mu.Unlock()
	if t.w == nil {
		return len(b), nil
	}
	return t.w.Write(b)
}

// lines returns the kept bytes as lines.
func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Split(string(t.b), "\n")
}

// last returns the last few lines, or a note that there were none.
func (t *tail) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	if s := strings.Join(lines, " | "); s != "" {
		return "stderr: " + s
	}
	return "no output on stderr"
}

func lastLines(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
