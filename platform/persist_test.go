package platform

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/whisk"
)

// waitForMark waits until an activation has a running mark on disk.
func waitForMark(t *testing.T, dir, id string) {
	t.Helper()
	path := filepath.Join(dir, "running", id+".json")
	for range 500 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("activation %s never marked running", id)
}

func TestRestartPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)
	runner := newPool(t)
	open := func() (*Platform, *whisk.Client) { return openOn(t, dir, runner) }

	p, c := open()
	mustPut(t, c, "echo", testAction("echo"))
	mustPutPackage(t, c, "pkg", &whisk.Package{Parameters: whisk.KeyValues{{Key: "from", Value: "pkg"}}})
	mustPut(t, c, "pkg/sleepy", testAction("sleep"))
	mustPut(t, c, "seq", seqAction("echo", "echo"))
	done, err := c.Invoke(ctx, "seq", map[string]any{"k": "v"}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	running, err := c.Invoke(ctx, "pkg/sleepy", map[string]any{"ms": 60000}, whisk.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, "conductor", conductorAction())
	composing, err := c.Invoke(ctx, "conductor", map[string]any{"action": "pkg/sleepy", "params": map[string]any{"ms": 60000}},
		whisk.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitForMark(t, dir, running.ActivationID)
	waitForMark(t, dir, composing.ActivationID)
	p.Close()

	p, c = open()
	defer p.Close()
	actions, err := c.ListActions(ctx, whisk.ListOptions{})
	if err != nil || len(actions) != 4 {
		t.Fatalf("actions after restart: %d, %v", len(actions), err)
	}
	a, err := c.GetAction(ctx, "pkg/sleepy")
	if err != nil || a.Exec.Code != "sleep" || a.Namespace != "guest/pkg" || a.Parameters.Get("from") != "pkg" {
		t.Fatalf("pkg/sleepy after restart: %+v, %v", a, err)
	}
	if pkgs, err := c.ListPackages(ctx, "", whisk.ListOptions{}); err != nil || len(pkgs) != 1 || pkgs[0].Name != "pkg" {
		t.Fatalf("packages after restart: %+v, %v", pkgs, err)
	}
	rec := mustGetActivation(t, c, done.ActivationID)
	jsonEqual(t, rec.Response.Result, `{"k":"v"}`)
	for _, id := range rec.Logs {
		mustGetActivation(t, c, id)
	}
	rec = mustGetActivation(t, c, running.ActivationID)
	if rec.Response.Status != whisk.StatusInternalError || rec.Name != "sleepy" {
		t.Errorf("interrupted activation %+v", rec)
	}
	jsonEqual(t, rec.Response.Result, `{"error":"`+interruptedMessage+`"}`)
	if v, _ := annotation(rec, "path"); v != "guest/pkg/sleepy" {
		t.Errorf("interrupted path %v", v)
	}
	// The interrupted composition: its primary record and its running
	// component are internal errors; its first conductor run had finished.
	rec = mustGetActivation(t, c, composing.ActivationID)
	if rec.Response.Status != whisk.StatusInternalError || rec.Name != "conductor" {
		t.Errorf("interrupted composition %+v", rec)
	}
	derived, err := c.ListActivations(ctx, whisk.ActivationListOptions{Docs: true, Since: rec.Start})
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]string{}
	for _, d := range derived {
		if d.Cause == composing.ActivationID {
			statuses[d.Name] = d.Response.Status
		}
	}
	if statuses["conductor"] != whisk.StatusSuccess || statuses["sleepy"] != whisk.StatusInternalError {
		t.Errorf("derived records of the interrupted composition: %v", statuses)
	}
	list, err := c.ListActivations(ctx, whisk.ActivationListOptions{})
	if err != nil || len(list) != 7 {
		t.Errorf("activations after restart: %d, %v", len(list), err)
	}
	left, _ := os.ReadDir(filepath.Join(dir, "running"))
	for _, e := range left {
		t.Errorf("left in running/: %s", e.Name())
	}
	// Actions still run after the restart.
	inv, err := c.Invoke(ctx, "echo", map[string]any{"again": true}, whisk.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Result, `{"again":true}`)
}

func TestWriteWskprops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wskprops")
	if err := WriteWskprops(path, "http://127.0.0.1:3233", User{Namespace: "guest", Key: testKey}); err != nil {
		t.Fatal(err)
	}
	cfg, err := whisk.LoadConfig(func(k string) string {
		if k == "WSK_CONFIG_FILE" {
			return path
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIHost != "http://127.0.0.1:3233" || cfg.Auth != testKey || cfg.Namespace != "guest" {
		t.Errorf("config %+v", cfg)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "APIHOST=") {
		t.Errorf("file %q", b)
	}
}

// openOn starts a platform on the data folder dir with runner, for tests
// that stop and start it again on the same data.
func openOn(t *testing.T, dir string, runner ContainerRunner) (*Platform, *whisk.Client) {
	t.Helper()
	p, err := New(Config{DataDir: dir, Runner: runner, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	url, err := p.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return p, clientFor(t, url, p.Users()[0].Key, "")
}
