package platform

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/platform/container"
	"github.com/wskx/wskx/whisk"
)

// actionBin is the test action server, built once by TestMain; cacheDir
// is the container pool's cache, shared so the npm install happens once.
var actionBin, cacheDir string

func skeletonMain(args []string) int {
	fs := flag.NewFlagSet("skeleton", flag.ContinueOnError)
	port := fs.Int("port", 8080, "")
	host := fs.String("host", "127.0.0.1", "")
	dir := fs.String("dir", "action", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s := container.NewSkeleton(container.SkeletonConfig{Addr: net.JoinHostPort(*host, strconv.Itoa(*port)), Dir: *dir})
	if err := s.Serve(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// servePlatformArg makes the test binary a platform server (see
// servePlatformMain), for tests that need a platform in a process of its own.
const servePlatformArg = "serve-platform"

// servePlatformMain serves a platform with a container pool (its cache in
// $WSKX_TEST_CACHE) on a free loopback port, prints its URL and key on a
// line of its own, and serves until killed.
func servePlatformMain() int {
	pool, err := container.NewPool(container.Config{Wskx: os.Args[0], CacheDir: os.Getenv("WSKX_TEST_CACHE"), Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := New(Config{Runner: pool, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	url, err := p.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(url, p.Users()[0].Key)
	select {}
}

// newPool returns a container pool running "wskx/testaction" images as
// the test action server, native actions under this binary's skeleton.
func newPool(t testing.TB) *container.Pool {
	t.Helper()
	pool, err := container.NewPool(container.Config{
		Images:   map[string][]string{"wskx/testaction": {actionBin}},
		Wskx:     os.Args[0],
		CacheDir: cacheDir,
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

func TestMain(m *testing.M) {
	// The pool starts native containers as "<WskxBinary> skeleton ...";
	// the tests point WskxBinary at this test binary.
	if len(os.Args) > 1 && os.Args[1] == "skeleton" {
		os.Exit(skeletonMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == servePlatformArg {
		os.Exit(servePlatformMain())
	}
	dir, err := os.MkdirTemp("", "platform-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	actionBin = filepath.Join(dir, "action")
	cacheDir = filepath.Join(dir, "cache")
	build := exec.Command("go", "build", "-o", actionBin, "./testdata/action")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test action:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is a platform serving on loopback and a client for its first
// user (guest, unless the test configures users).
type testEnv struct {
	p   *Platform
	c   *whisk.Client
	url string
	key string
}

// testKey is a key for tests that configure their users; testKeyID is
// its uuid.
const (
	testKeyID = "00000000-0000-4000-8000-000000000001"
	testKey   = testKeyID + ":s3cr3t"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startPlatform starts a platform with cfg (a test runner unless cfg has
// one) and returns it with a guest client.
func startPlatform(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	if cfg.Runner == nil {
		cfg.Runner = newPool(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	url, err := p.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := p.Users()[0].Key
	return &testEnv{p: p, c: clientFor(t, url, key, ""), url: url, key: key}
}

func clientFor(t testing.TB, url, key, ns string) *whisk.Client {
	t.Helper()
	c, err := whisk.NewClient(whisk.Config{APIHost: url, Auth: key, Namespace: ns}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testAction is an action run by the test action server in the given mode.
func testAction(mode string) *whisk.Action {
	return &whisk.Action{Exec: &whisk.Exec{Kind: "blackbox", Image: "wskx/testaction", Code: mode}}
}

func mustPut(t testing.TB, c *whisk.Client, name string, a *whisk.Action) *whisk.Action {
	t.Helper()
	out, err := c.PutAction(ctxT(t), name, a, true)
	if err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
	return out
}

// mustPutPackage creates or replaces a package (or binding) and returns it.
func mustPutPackage(t testing.TB, c *whisk.Client, name string, pkg *whisk.Package) *whisk.Package {
	t.Helper()
	if pkg == nil {
		pkg = &whisk.Package{}
	}
	out, err := c.PutPackage(ctxT(t), name, pkg, true)
	if err != nil {
		t.Fatalf("put package %s: %v", name, err)
	}
	return out
}

func mustGetActivation(t testing.TB, c *whisk.Client, id string) *whisk.Activation {
	t.Helper()
	a, err := c.GetActivation(ctxT(t), id)
	if err != nil {
		t.Fatalf("get activation %s: %v", id, err)
	}
	return a
}

// resultMap decodes a JSON result into a map.
func resultMap(t testing.TB, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	return m
}

func jsonEqual(t testing.TB, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("got %s, want %s", gb, wb)
	}
}

func annotation(a *whisk.Activation, key string) (any, bool) {
	for _, kv := range a.Annotations {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

func apiErr(t testing.TB, err error, status int) *whisk.APIError {
	t.Helper()
	ae, ok := err.(*whisk.APIError)
	if !ok {
		t.Fatalf("error %v is not an *APIError (want %d)", err, status)
	}
	if ae.StatusCode != status {
		t.Fatalf("status %d (%s), want %d", ae.StatusCode, ae.Message, status)
	}
	return ae
}

// noRedirects is a client that shows a redirect instead of following it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// rawRequest sends method url with body and key as basic auth ("" sends
// none) and returns the status and the JSON object answered; a body that
// is not a JSON object fails the test.
func rawRequest(t testing.TB, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if id, secret, ok := strings.Cut(key, ":"); ok {
		req.SetBasicAuth(id, secret)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d, body %q is not a JSON object", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}
