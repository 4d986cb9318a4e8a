package container

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/whisk"
)

var (
	blackboxBin string // the test container server built from testdata/blackbox
	cacheDir    string // shared by the tests' pools, so npm installs once
)

func TestMain(m *testing.M) {
	// The pool starts native containers as "<Wskx> skeleton ...";
	// the tests point Wskx at this test binary.
	if len(os.Args) > 1 && os.Args[1] == "skeleton" {
		os.Exit(skeletonMain(os.Args[2:]))
	}
	os.Exit(testMain(m))
}

func skeletonMain(args []string) int {
	fs := flag.NewFlagSet("skeleton", flag.ContinueOnError)
	port := fs.Int("port", 8080, "")
	host := fs.String("host", "127.0.0.1", "")
	dir := fs.String("dir", "action", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s := NewSkeleton(SkeletonConfig{Addr: net.JoinHostPort(*host, strconv.Itoa(*port)), Dir: *dir})
	if err := s.Serve(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "wskx-container-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	blackboxBin = filepath.Join(tmp, "blackbox")
	cmd := exec.Command("go", "build", "-o", blackboxBin, "./testdata/blackbox")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test container:", err)
		return 1
	}
	cacheDir = filepath.Join(tmp, "cache")
	return m.Run()
}

// newPool makes a pool for one test; edit adjusts its config.
func newPool(t *testing.T, edit func(*Config)) *Pool {
	t.Helper()
	cfg := Config{
		Wskx:     os.Args[0],
		CacheDir: cacheDir,
		Images: map[string][]string{
			"test/bbox":             {blackboxBin},
			"test/bbox-sentinel:v1": {blackboxBin, "--sentinel"},
			"test/bbox-placeholder": {blackboxBin, "-port={port}", "--sentinel"},
		},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := NewPool(cfg)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// zipB64 builds a base64 zip archive; names ending in "*" are executable.
func zipB64(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

var actionSeq int

// spec builds a Spec for a fresh action (its own warm containers).
func spec(exec whisk.Exec, timeoutMS, memoryMB int) Spec {
	actionSeq++
	return Spec{Namespace: "guest", Action: fmt.Sprintf("/guest/a%d", actionSeq), Version: "0.0.1",
		Exec: exec, Limits: whisk.Limits{Timeout: timeoutMS, Memory: memoryMB, Logs: 10, Concurrency: 1},
		Env: map[string]string{"__OW_API_HOST": "http://127.0.0.1:1"}}
}

func input(t *testing.T, value any, timeout time.Duration) RunInput {
	t.Helper()
	b, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	actionSeq++
	return RunInput{Value: b, ActivationID: fmt.Sprintf("act%06d", actionSeq), TransactionID: "tx1",
		Deadline: time.Now().Add(timeout)}
}

func run(t *testing.T, p *Pool, s Spec, value any) RunOutput {
	t.Helper()
	timeout := time.Duration(s.Limits.Timeout) * time.Millisecond
	out, err := p.Run(context.Background(), s, input(t, value, timeout))
	if err != nil {
		t.Fatalf("Run %s: %v", s.Action, err)
	}
	return out
}

func resultMap(t *testing.T, out RunOutput) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(out.Result, &m); err != nil {
		t.Fatalf("result %s is not an object: %v", out.Result, err)
	}
	return m
}

func errorText(t *testing.T, out RunOutput) string {
	t.Helper()
	s, _ := resultMap(t, out)["error"].(string)
	return s
}

func hasLog(logs []string, stream, text string) bool {
	for _, l := range logs {
		if strings.HasSuffix(l, " "+stream+": "+text) {
			return true
		}
	}
	return false
}

func testBinary() string { return os.Args[0] }

// actionDir is a directory actions can write to: when the tests run as
// root, native and nodejs actions run as an unprivileged user, which
// cannot enter t.TempDir().
func actionDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wskx-action-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}
