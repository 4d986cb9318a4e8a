package dmtcp_test

import (
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
