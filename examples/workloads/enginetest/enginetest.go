// Package enginetest drives checkpoint engines through hops the way the
// step runner does, for the engines' tests and benchmarks: every restore
// happens in a wiped root at the same absolute path, from copied files.
package enginetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wskx/wskx/internal/proctest"
	"github.com/wskx/wskx/runner"
)

// Dirs are the job folders under root, laid out as the step runner does.
func Dirs(root string) runner.Dirs {
	return runner.Dirs{Root: root, Work: filepath.Join(root, "work"), Ckpt: filepath.Join(root, "ckpt"),
		Tmp: filepath.Join(root, "tmp"), State: filepath.Join(root, "state")}
}

// Fresh wipes root and creates the job folders.
func Fresh(root string) (runner.Dirs, error) {
	d := Dirs(root)
	if err := os.RemoveAll(root); err != nil {
		return d, err
	}
	for _, p := range []string{d.Work, d.Ckpt, d.Tmp, d.State} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return d, err
		}
	}
	return d, nil
}

// Snapshot is a copy of an image's files, keyed by path relative to root.
type Snapshot map[string][]byte

// Copy reads the image's files, as an upload would.
func Copy(root string, img runner.Image) (Snapshot, error) {
	s := Snapshot{}
	for _, f := range img.Files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, fmt.Errorf("copy image: %w", err)
		}
		s[f] = b
	}
	return s, nil
}

// Unpack writes the snapshot under root.
func (s Snapshot) Unpack(root string) error {
	for f, b := range s {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Buffer is a goroutine-safe output sink.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// LastLine is the last non-empty line of s.
func LastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Straight runs argv to its end outside any engine and returns its
// standard output.
func Straight(ctx context.Context, argv []string) (string, error) {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		return "", fmt.Errorf("straight run %v: %w", argv, err)
	}
	return string(out), nil
}

// Lines returns the lines of s that start with prefix.
func Lines(s, prefix string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// Hop is one hop's process and its streams.
type Hop struct {
	Proc           runner.Process
	Stdout, Stderr *Buffer
}

// Start starts a hop in a fresh root, unpacking snap first when it is not
// nil (a restore).
func Start(ctx context.Context, e runner.Engine, root string, argv []string, snap Snapshot) (*Hop, error) {
	return StartEnv(ctx, e, root, argv, map[string]string{}, snap)
}

// StartEnv is Start with env as the job's environment.
func StartEnv(ctx context.Context, e runner.Engine, root string, argv []string, env map[string]string, snap Snapshot) (*Hop, error) {
	dirs, err := Fresh(root)
	if err != nil {
		return nil, err
	}
	if snap != nil {
		if err := snap.Unpack(root); err != nil {
			return nil, err
		}
	}
	h := &Hop{Stdout: &Buffer{}, Stderr: &Buffer{}}
	h.Proc, err = e.Start(ctx, runner.JobSpec{Argv: argv, Env: env, Stdout: h.Stdout, Stderr: h.Stderr}, dirs, snap != nil)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Wait waits for the hop's job to exit.
func (h *Hop) Wait(ctx context.Context) (runner.Exit, error) {
	select {
	case <-h.Proc.Done():
		return h.Proc.Exit(), nil
	case <-ctx.Done():
		h.Proc.Kill()
		return runner.Exit{}, ctx.Err()
	}
}

// Chain runs argv over hops+1 hops: each of the first hops is stopped by a
// deadline checkpoint after every, copied, and restored in a wiped root.
// It returns what the hops printed on stdout, one after the other, and the
// images' sizes.
func Chain(ctx context.Context, e runner.Engine, root string, argv []string, hops int, every time.Duration) (string, []int64, error) {
	var snap Snapshot
	var sizes []int64
	var out strings.Builder
	for i := 0; ; i++ {
		h, err := Start(ctx, e, root, argv, snap)
		if err != nil {
			return "", sizes, fmt.Errorf("hop %d: start: %w", i, err)
		}
		if i == hops {
			ex, err := h.Wait(ctx)
			if err != nil || ex.Code != 0 || ex.Checkpointed {
				return "", sizes, fmt.Errorf("hop %d: exit %+v, %v; stderr: %s", i, ex, err, h.Stderr.String())
			}
			out.WriteString(h.Stdout.String())
			return out.String(), sizes, nil
		}
		select {
		case <-time.After(every):
		case <-h.Proc.Done():
			return "", sizes, fmt.Errorf("hop %d: the job ended before its checkpoint (%+v); make it longer; stderr: %s", i, h.Proc.Exit(), h.Stderr.String())
		}
		img, err := h.Proc.Checkpoint(ctx, true)
		if err != nil {
			h.Proc.Kill()
			return "", sizes, fmt.Errorf("hop %d: checkpoint: %w; stderr: %s", i, err, h.Stderr.String())
		}
		ex, err := h.Wait(ctx)
		if err != nil || !ex.Checkpointed {
			return "", sizes, fmt.Errorf("hop %d: after the checkpoint: exit %+v, %v", i, ex, err)
		}
		out.WriteString(h.Stdout.String())
		if snap, err = Copy(root, img); err != nil {
			return "", sizes, fmt.Errorf("hop %d: %w", i, err)
		}
		sizes = append(sizes, img.Bytes)
	}
}

// RaceTheExit asks for a checkpoint (stopping and not) around the moment
// the job given by argv ends (it should run about 300 ms) and checks that
// each attempt has one of two outcomes, never a mix: an image that restores
// to the straight run's result, or runner.ErrExited with the job's own,
// complete output. logf hears which outcome each attempt had.
func RaceTheExit(ctx context.Context, e runner.Engine, root string, argv []string, logf func(string, ...any)) error {
	straight, err := Straight(ctx, argv)
	if err != nil {
		return err
	}
	want := LastLine(straight)
	for i, after := range []time.Duration{220, 260, 300, 340} {
		for _, stop := range []bool{true, false} {
			dir := filepath.Join(root, fmt.Sprintf("race-%d-%v", i, stop), "job")
			if err := raceOnce(ctx, e, dir, argv, after*time.Millisecond, stop, want, logf); err != nil {
				return fmt.Errorf("after %d ms, stop=%v: %w", after, stop, err)
			}
		}
	}
	return nil
}

func raceOnce(ctx context.Context, e runner.Engine, root string, argv []string, after time.Duration, stop bool, want string, logf func(string, ...any)) error {
	h, err := Start(ctx, e, root, argv, nil)
	if err != nil {
		return err
	}
	time.Sleep(after)
	img, err := h.Proc.Checkpoint(ctx, stop)
	switch {
	case errors.Is(err, runner.ErrExited):
		ex, _ := h.Wait(ctx)
		if ex.Checkpointed || ex.Code != 0 || LastLine(h.Stdout.String()) != want {
			return fmt.Errorf("ErrExited but exit %+v, output %q", ex, h.Stdout.String())
		}
		logf("after %s, stop=%v: the job's exit won", after, stop)
		return nil
	case err != nil:
		return err
	}
	snap, err := Copy(root, img)
	if err != nil {
		return err
	}
	h.Proc.Kill()
	if ex, _ := h.Wait(ctx); stop && !ex.Checkpointed {
		return fmt.Errorf("a stop checkpoint's exit is %+v", ex)
	}
	r, err := Start(ctx, e, root, argv, snap)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if ex, _ := r.Wait(ctx); ex.Code != 0 || LastLine(r.Stdout.String()) != want {
		return fmt.Errorf("restored job exit %+v, output %q", ex, r.Stdout.String())
	}
	logf("after %s, stop=%v: checkpointed and restored", after, stop)
	return nil
}

// CheckEnv checks what a job printed with env(1): every variable of want
// with its value, and nowhere the secret value, which the test process
// had in its own environment and no job may inherit.
func CheckEnv(printed, secret string, want map[string]string) error {
	if strings.Contains(printed, secret) {
		return fmt.Errorf("the job saw the runner's secret:\n%s", printed)
	}
	got := map[string]string{}
	for _, l := range strings.Split(printed, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("the job's %s is %q, want %q; it saw:\n%s", k, got[k], v, printed)
		}
	}
	return nil
}

// HelperEnv, set in a test binary's environment, holds what the test
// acting as a step container in DiesWithParent runs (helperJob, as JSON).
const HelperEnv = "WSKX_ENGINETEST_HELPER"

// HelperRunning is what the helper prints once its job runs.
const HelperRunning = "job running"

// helperJob is the helper's job.
type helperJob struct {
	Root     string   `json:"root"`
	Snapshot string   `json:"snapshot,omitempty"` // a folder with a snapshot unpacked in it
	Argv     []string `json:"argv"`
}

// Helper reports whether this test binary is DiesWithParent's helper, and
// if so starts the job it was given under e, prints HelperRunning and
// waits to be killed. Call it first thing in the test DiesWithParent
// names.
func Helper(ctx context.Context, e runner.Engine) (bool, error) {
	spec, ok := os.LookupEnv(HelperEnv)
	if !ok {
		return false, nil
	}
	var job helperJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		return true, fmt.Errorf("helper: %w", err)
	}
	var snap Snapshot
	if job.Snapshot != "" {
		var err error
		if snap, err = LoadSnapshot(job.Snapshot); err != nil {
			return true, err
		}
	}
	if _, err := Start(ctx, e, job.Root, job.Argv, snap); err != nil {
		return true, err
	}
	fmt.Println(HelperRunning)
	<-ctx.Done()
	return true, ctx.Err()
}

// JobDiesWithRunner is the whole check for an engine whose sleeping job
// must die with its step container: in the test binary run again as the
// container (Helper) it plays that part; otherwise it runs the check with
// a job under tmp. test names the calling test, which the re-run selects.
func JobDiesWithRunner(ctx context.Context, e runner.Engine, test, tmp string) error {
	if ok, err := Helper(ctx, e); ok {
		return err
	}
	return DiesWithParent(ctx, test, filepath.Join(tmp, "job"), "", []string{"sleep", "60"}, 5*time.Second)
}

// DiesWithParent runs the test binary's test named test as a helper that
// starts argv in root (restored from the snapshot unpacked in snapDir, if
// not empty), kills the helper with SIGKILL as a platform kills a step
// container, and waits up to within for every process working in root
// (the job, and a DMTCP coordinator or restart) to be gone. The job must
// not write to its streams: a write to the dead helper's pipes would end
// it whether or not the engine did its part.
func DiesWithParent(ctx context.Context, test, root, snapDir string, argv []string, within time.Duration) error {
	spec, err := json.Marshal(helperJob{Root: root, Snapshot: snapDir, Argv: argv})
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), HelperEnv+"="+string(spec))
	var errOut Buffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	running := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), HelperRunning) {
				running <- true
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		running <- false
	}()
	select {
	case ok := <-running:
		if !ok {
			return fmt.Errorf("the helper ended without starting its job: %s", errOut.String())
		}
	case <-ctx.Done():
		return fmt.Errorf("the helper did not start its job: %w; stderr: %s", ctx.Err(), errOut.String())
	}
	if len(Working(root)) == 0 {
		return fmt.Errorf("no process works in %s while the helper runs: the check would prove nothing", root)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(within)
	for {
		left := Working(root)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return fmt.Errorf("%d process(es) outlived their killed parent by %s: %v", len(left), within, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Working lists the live processes whose working directory is root or
// below it (zombies, which have none, are dead).
func Working(root string) []int {
	return proctest.Select(func(pid int, proc string) bool {
		cwd, err := os.Readlink(filepath.Join(proc, "cwd"))
		return err == nil && (cwd == root || strings.HasPrefix(cwd, root+"/"))
	})
}

// LoadSnapshot reads back a snapshot unpacked into dir.
func LoadSnapshot(dir string) (Snapshot, error) {
	s := Snapshot{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		s[rel] = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load snapshot: %w", err)
	}
	return s, nil
}
