package dmtcp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/examples/workloads"
	"github.com/wskx/wskx/examples/workloads/enginetest"
	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/dmtcp"
	"github.com/wskx/wskx/runner/none"
)

var bins map[string]string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wskx-workloads-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	bins, err = workloads.Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engine returns the DMTCP engine, or skips the test when DMTCP is absent.
func engine(t testing.TB, o dmtcp.Options) *dmtcp.Engine {
	t.Helper()
	e, err := dmtcp.New(o)
	if errors.Is(err, dmtcp.ErrNotInstalled) {
		t.Skipf("DMTCP is not installed (set %s or put its bin/ on PATH): %v", dmtcp.EnvHome, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// jobs are long enough (a second or more) for three checkpoints 250 ms apart.
func jobs() []struct {
	name string
	argv []string
} {
	return []struct {
		name string
		argv []string
	}{
		// Progress every 20 ms: a line printed after an image would show twice.
		{"count", []string{bins["count"], "600", "2"}},
		{"factors", []string{bins["factors"], "3000000000000000037"}},
		{"matrix", []string{bins["matrix"], "1400", "7"}},
	}
}

func TestVersion(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	v, err := e.Version(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if v == "" || strings.ContainsAny(v, " \n") {
		t.Fatalf("version %q", v)
	}
}

func TestMissingDMTCP(t *testing.T) {
	_, err := dmtcp.New(dmtcp.Options{Home: filepath.Join(t.TempDir(), "no-dmtcp")})
	if !errors.Is(err, dmtcp.ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	for _, want := range []string{dmtcp.EnvHome, "github.com/dmtcp/dmtcp", "dmtcp_launch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestChainMatchesStraightRun(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	for _, j := range jobs() {
		t.Run(j.name, func(t *testing.T) {
			ctx := testCtx(t)
			straight, err := enginetest.Straight(ctx, j.argv)
			if err != nil {
				t.Fatal(err)
			}
			out, sizes, err := enginetest.Chain(ctx, e, filepath.Join(t.TempDir(), "job"), j.argv, 3, 250*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := enginetest.LastLine(out), enginetest.LastLine(straight); got != want {
				t.Fatalf("after %d checkpoints: %s, straight run: %s", len(sizes), got, want)
			}
			// A stopping checkpoint lets the job print nothing after its
			// image: no progress line is repeated or lost across hops.
			if got, want := enginetest.Lines(out, "counted"), enginetest.Lines(straight, "counted"); !slices.Equal(got, want) {
				t.Fatalf("progress across hops %q, straight run %q", got, want)
			}
		})
	}
}

// Jobs of several chains at once, each with its own coordinator.
func TestConcurrentChains(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	argv := []string{bins["count"], "30", "50"}
	straight, err := enginetest.Straight(ctx, argv)
	if err != nil {
		t.Fatal(err)
	}
	want := enginetest.LastLine(straight)
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			out, _, err := enginetest.Chain(ctx, e, filepath.Join(t.TempDir(), fmt.Sprint("job", i)), argv, 3, 200*time.Millisecond)
			if err == nil && enginetest.LastLine(out) != want {
				err = fmt.Errorf("chain %d: %s, straight run: %s", i, enginetest.LastLine(out), want)
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestIntervalCheckpoint(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	argv := []string{bins["count"], "40", "50"}
	straight, err := enginetest.Straight(ctx, argv)
	if err != nil {
		t.Fatal(err)
	}
	want := enginetest.LastLine(straight)
	root := filepath.Join(t.TempDir(), "job")
	h, err := enginetest.Start(ctx, e, root, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var snap enginetest.Snapshot
	for i := range 2 {
		time.Sleep(250 * time.Millisecond)
		img, err := h.Proc.Checkpoint(ctx, false)
		if err != nil {
			t.Fatalf("interval checkpoint %d: %v", i, err)
		}
		if snap, err = enginetest.Copy(root, img); err != nil {
			t.Fatal(err)
		}
		select {
		case <-h.Proc.Done():
			t.Fatalf("the job ended after interval checkpoint %d: %+v", i, h.Proc.Exit())
		default:
		}
	}
	// The hop dies; the next one continues from the last interval image.
	h.Proc.Kill()
	if ex, _ := h.Wait(ctx); ex.Checkpointed {
		t.Fatalf("a killed job reports Checkpointed: %+v", ex)
	}
	h, err = enginetest.Start(ctx, e, root, argv, snap)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := h.Wait(ctx)
	if err != nil || ex.Code != 0 {
		t.Fatalf("restored job: %+v, %v; stderr: %s", ex, err, h.Stderr)
	}
	if got := enginetest.LastLine(h.Stdout.String()); got != want {
		t.Fatalf("from an interval image: %s, straight run: %s", got, want)
	}
}

func TestCheckpointAfterExit(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	for _, stop := range []bool{true, false} {
		h, err := enginetest.Start(ctx, e, filepath.Join(t.TempDir(), "job"), []string{bins["count"], "3", "1"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ex, err := h.Wait(ctx); err != nil || ex.Code != 0 {
			t.Fatalf("exit %+v, %v", ex, err)
		}
		if _, err := h.Proc.Checkpoint(ctx, stop); !errors.Is(err, runner.ErrExited) {
			t.Fatalf("stop=%v: err = %v, want ErrExited", stop, err)
		}
		if h.Proc.Exit().Checkpointed {
			t.Fatal("a job that finished reports Checkpointed")
		}
	}
}

func TestTruncatedImageFails(t *testing.T) {
	e := engine(t, dmtcp.Options{UpTimeout: 3 * time.Second})
	ctx := testCtx(t)
	argv := []string{bins["count"], "100", "50"}
	root := filepath.Join(t.TempDir(), "job")
	h, err := enginetest.Start(ctx, e, root, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	img, err := h.Proc.Checkpoint(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := enginetest.Copy(root, img)
	if err != nil {
		t.Fatal(err)
	}
	cut := 0
	for f, b := range snap {
		if strings.HasSuffix(f, ".dmtcp") {
			snap[f] = b[:len(b)/2]
			cut++
		}
	}
	if cut == 0 {
		t.Fatalf("no image in %v", img.Files)
	}
	h, err = enginetest.Start(ctx, e, root, argv, snap)
	if err == nil {
		ex, _ := h.Wait(ctx)
		if ex.Code == 0 && ex.Signal == "" {
			t.Fatalf("a truncated image restarted and ran to the end: %s", h.Stdout)
		}
		// It came up and then died: that is a failure too, not a hang.
		t.Logf("restart came up and failed: %+v", ex)
		return
	}
	if !errors.Is(err, dmtcp.ErrNotRunning) && !errors.Is(err, dmtcp.ErrDMTCPFailed) {
		t.Fatalf("err = %v, want ErrNotRunning or ErrDMTCPFailed", err)
	}
	t.Logf("restart refused: %v", err)
}

// A shell job writing to a file it holds open, with a child process per
// step: after every hop the file holds each line exactly once, because
// DMTCP cuts it back to its size at the checkpoint.
func TestShellJobWithOpenFile(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	argv := []string{"sh", "-c", `exec 3>>out.log; i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i >&3; sleep 0.05; done; echo '{"done": true}'`}
	root := filepath.Join(t.TempDir(), "job")
	out, _, err := enginetest.Chain(ctx, e, root, argv, 3, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := enginetest.LastLine(out); got != `{"done": true}` {
		t.Fatalf("result %q", got)
	}
	b, err := os.ReadFile(filepath.Join(root, "work", "out.log"))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	if string(b) != want.String() {
		t.Fatalf("out.log after 3 restores:\n%s", b)
	}
}

// An image that is not one makes DMTCP itself fail (status 99 and an
// ASSERT): Start tells that apart from the job failing.
func TestInvalidImageIsDMTCPFailure(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	snap := enginetest.Snapshot{"ckpt/ckpt_count_0-0-0.dmtcp": junk}
	_, err := enginetest.Start(ctx, e, filepath.Join(t.TempDir(), "job"), []string{bins["count"], "5", "1"}, snap)
	if !errors.Is(err, dmtcp.ErrDMTCPFailed) {
		t.Fatalf("err = %v, want ErrDMTCPFailed", err)
	}
	if !strings.Contains(err.Error(), "ASSERT") {
		t.Errorf("error %q does not carry DMTCP's message", err)
	}
}

// A static program ignores DMTCP's preloaded library: the launch must say
// so rather than run a job that can never be checkpointed.
func TestStaticProgramRefused(t *testing.T) {
	e := engine(t, dmtcp.Options{UpTimeout: 2 * time.Second})
	ctx := testCtx(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "spin.c")
	if err := os.WriteFile(src, []byte("#include <unistd.h>\nint main(void){for(;;)sleep(1);}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "spin")
	if out, err := exec.CommandContext(ctx, "gcc", "-static", "-o", bin, src).CombinedOutput(); err != nil {
		t.Skipf("cannot link statically here: %v: %s", err, out)
	}
	_, err := enginetest.Start(ctx, e, filepath.Join(dir, "job"), []string{bin}, nil)
	if !errors.Is(err, dmtcp.ErrNotRunning) {
		t.Fatalf("err = %v, want ErrNotRunning", err)
	}
	if !strings.Contains(err.Error(), "cooperative") {
		t.Errorf("error %q does not point to the cooperative engine", err)
	}
}

// A checkpoint asked for around the moment the job ends has one of two
// outcomes, never a mix: an image that restores to the right result, or
// ErrExited with the job's own, complete output.
func TestCheckpointRacingTheExit(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	argv := []string{bins["count"], "5", "60"} // about 300 ms
	if err := enginetest.RaceTheExit(testCtx(t), e, t.TempDir(), argv, t.Logf); err != nil {
		t.Fatal(err)
	}
}

// The job, DMTCP's programs and the images hold the spec's environment and
// nothing of the runner's: a secret in the runner's environment is seen by
// no process of the hop and saved in no image, while a variable of the
// spec is in the image and seen again after the restore.
func TestJobEnvIsTheSpecs(t *testing.T) {
	const secret, visible = "s3cr3t-dmtcp-engine-7f3a", "visible-dmtcp-value-91c2"
	t.Setenv("WSKX_TEST_SECRET", secret)
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "job")
	argv := []string{"sh", "-c", `env > env.hop$WSKX_HOP_MARK; i=0; while [ $i -lt 100 ]; do i=$((i+1)); sleep 0.05; done; env`}
	env := map[string]string{"SPEC_VAR": visible, "WSKX_HOP_MARK": "1"}
	h, err := enginetest.StartEnv(ctx, e, root, argv, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := secretHolders(t, root, secret); n != "" {
		t.Errorf("processes of the hop hold the runner's secret: %s", n)
	}
	img, err := h.Proc.Checkpoint(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := enginetest.Copy(root, img)
	if err != nil {
		t.Fatal(err)
	}
	images := 0
	for f, b := range snap {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the runner's secret", f)
		}
		if strings.HasSuffix(f, ".dmtcp") {
			images++
			if !bytes.Contains(b, []byte(visible)) {
				t.Errorf("image %s does not hold the spec's variable: is this the job's memory?", f)
			}
		}
	}
	if images == 0 {
		t.Fatalf("no image in %v", img.Files)
	}
	printed := string(snap["work/env.hop1"])
	if err := enginetest.CheckEnv(printed, secret, map[string]string{"SPEC_VAR": visible, "PATH": none.DefaultPath}); err != nil {
		t.Fatal(err)
	}
	h, err = enginetest.StartEnv(ctx, e, root, argv, env, snap)
	if err != nil {
		t.Fatal(err)
	}
	if ex, err := h.Wait(ctx); err != nil || ex.Code != 0 {
		t.Fatalf("restored job: %+v, %v; stderr: %s", ex, err, h.Stderr)
	}
	if err := enginetest.CheckEnv(h.Stdout.String(), secret, map[string]string{"SPEC_VAR": visible}); err != nil {
		t.Fatalf("after the restore: %v", err)
	}
}

// secretHolders lists the processes working in root whose environment
// holds secret.
func secretHolders(t *testing.T, root, secret string) string {
	t.Helper()
	pids := enginetest.Working(root)
	if len(pids) < 2 {
		t.Fatalf("want the job and its coordinator working in %s, found %v", root, pids)
	}
	var out []string
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && bytes.Contains(b, []byte(secret)) {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			out = append(out, fmt.Sprintf("%d (%s)", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		}
	}
	return strings.Join(out, ", ")
}

// A killed step container takes its job and the coordinator with it, on
// the first hop and on a restored one.
func TestJobDiesWithTheRunner(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	if ok, err := enginetest.Helper(ctx, e); ok {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	// Silent: a job that writes would die of SIGPIPE once the helper is
	// gone, proving nothing.
	src := filepath.Join(dir, "quiet.c")
	if err := os.WriteFile(src, []byte("#include <unistd.h>\nint main(void){for(;;)usleep(50000);}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	quiet := filepath.Join(dir, "quiet")
	if out, err := exec.CommandContext(ctx, "gcc", "-o", quiet, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, out)
	}
	argv := []string{quiet}
	root := filepath.Join(dir, "job")
	if err := enginetest.DiesWithParent(ctx, "TestJobDiesWithTheRunner", root, "", argv, 5*time.Second); err != nil {
		t.Fatalf("first hop: %v", err)
	}
	h, err := enginetest.Start(ctx, e, root, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	img, err := h.Proc.Checkpoint(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := enginetest.Copy(root, img)
	if err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(dir, "snapshot")
	if err := snap.Unpack(saved); err != nil {
		t.Fatal(err)
	}
	if err := enginetest.DiesWithParent(ctx, "TestJobDiesWithTheRunner", root, saved, argv, 5*time.Second); err != nil {
		t.Fatalf("restored hop: %v", err)
	}
}

// DMTCP keeps its temp files in the hop's tmp folder: nothing lands in
// the runner's TMPDIR (the coordinator ignores its --tmpdir for its log)
// or in a TMPDIR the job sets for itself.
func TestTempFilesStayInTheHop(t *testing.T) {
	runnerTmp, jobTmp := t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", runnerTmp)
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "job")
	argv := []string{bins["count"], "20", "20"}
	env := map[string]string{"TMPDIR": jobTmp}
	h, err := enginetest.StartEnv(ctx, e, root, argv, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	img, err := h.Proc.Checkpoint(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := enginetest.Copy(root, img)
	if err != nil {
		t.Fatal(err)
	}
	if h, err = enginetest.StartEnv(ctx, e, root, argv, env, snap); err != nil {
		t.Fatal(err)
	}
	if ex, err := h.Wait(ctx); err != nil || ex.Code != 0 {
		t.Fatalf("restored job: %+v, %v; stderr: %s", ex, err, h.Stderr)
	}
	for _, d := range []string{runnerTmp, jobTmp} {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, ent := range ents {
			t.Errorf("left in %s: %s", d, ent.Name())
		}
	}
	if logs, _ := filepath.Glob(filepath.Join(root, "tmp", "dmtcp-*", "dmtcp_coordinator.*.log")); len(logs) == 0 {
		t.Errorf("the coordinator's own log is not in the hop's tmp folder")
	}
}

// A job whose working directory is gone makes DMTCP's checkpoint fail an
// assertion (getcwd, ENOENT) and exit 99: the exit says DMTCP failed,
// not the job.
func TestEngineFailedExit(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "job")
	h, err := enginetest.Start(ctx, e, root, []string{bins["count"], "100", "50"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := os.RemoveAll(filepath.Join(root, "work")); err != nil {
		t.Fatal(err)
	}
	_, cerr := h.Proc.Checkpoint(ctx, true)
	ex, err := h.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checkpoint: %v; exit %+v; stderr: %s", cerr, ex, h.Stderr)
	if ex.Code != 99 {
		t.Skipf("this DMTCP did not fail on a missing working directory (exit %+v)", ex)
	}
	if !ex.EngineFailed || ex.Checkpointed {
		t.Fatalf("exit %+v: want EngineFailed", ex)
	}
}

// A job that exits 99 on its own is the job failing.
func TestJobsOwnStatus99(t *testing.T) {
	e := engine(t, dmtcp.Options{})
	ctx := testCtx(t)
	h, err := enginetest.Start(ctx, e, filepath.Join(t.TempDir(), "job"), []string{"sh", "-c", "echo 'failing: ASSERT' >&2; exit 99"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := h.Wait(ctx)
	if err != nil || ex.Code != 99 || ex.EngineFailed {
		t.Fatalf("exit %+v, %v: want the job's own 99", ex, err)
	}
}
