package platform

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wskx/wskx/whisk"
)

// TestCatalogUtils invokes /whisk.system/utils's actions with the inputs
// and defaults apache/openwhisk-catalog's utils manifest documents, as the
// guest namespace does on OpenWhisk.
func TestCatalogUtils(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: nodejs actions cannot run")
	}
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	tests := []struct {
		action string
		params map[string]any
		want   string
	}{
		{"echo", map[string]any{"payload": "Five fuzzy felines"}, `{"payload":"Five fuzzy felines"}`},
		{"echo", nil, `{}`},
		{"cat", map[string]any{"lines": []any{4, 2, 3}}, `{"lines":[4,2,3],"payload":"4\n2\n3"}`},
		{"cat", nil, `{"lines":[],"payload":""}`},
		{"sort", map[string]any{"lines": []any{4, 2, 3}}, `{"lines":[2,3,4],"length":3}`},
		// JavaScript's default order compares strings.
		{"sort", map[string]any{"lines": []any{"b", "a", 10, 9}}, `{"lines":[10,9,"a","b"],"length":4}`},
		{"split", map[string]any{"payload": "one,two,three", "separator": ","}, `{"lines":["one","two","three"],"payload":"one,two,three"}`},
		{"split", map[string]any{"payload": "a\r\nb\nc"}, `{"lines":["a","b","c"],"payload":"a\r\nb\nc"}`},
		{"head", map[string]any{"lines": []any{4, 2, 3}, "num": 2}, `{"lines":[4,2],"num":2}`},
		{"head", map[string]any{"lines": []any{4, 2, 3}}, `{"lines":[4],"num":1}`},
	}
	for _, tt := range tests {
		inv, err := env.c.Invoke(ctx, "/whisk.system/utils/"+tt.action, tt.params, whisk.InvokeOptions{Blocking: true})
		if err != nil {
			t.Fatalf("%s %v: %v", tt.action, tt.params, err)
		}
		jsonEqual(t, inv.Activation.Response.Result, tt.want)
		if v, _ := annotation(inv.Activation, "path"); v != "whisk.system/utils/"+tt.action || inv.Activation.Namespace != "guest" {
			t.Errorf("%s: record of %s, path %v", tt.action, inv.Activation.Namespace, v)
		}
	}
	inv, err := env.c.Invoke(ctx, "/whisk.system/utils/date", nil, whisk.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ Date string }
	if err := json.Unmarshal(inv.Result, &d); err != nil {
		t.Fatal(err)
	}
	if when, err := time.Parse(time.RFC3339Nano, d.Date); err != nil || time.Since(when) > time.Hour || time.Until(when) > time.Hour {
		t.Errorf("date %q: %v", d.Date, err)
	}
	if _, err := env.c.Invoke(ctx, "/whisk.system/utils/split", nil, whisk.InvokeOptions{Blocking: true}); whisk.StatusOf(err) != http.StatusBadGateway {
		t.Errorf("split without a payload: %v, want it to fail", err)
	}

	// OpenWhisk's sequence example: the catalog's actions as components,
	// and through a binding with its own defaults.
	mustPut(t, env.c, "sortedLines", seqAction("/whisk.system/utils/split", "/whisk.system/utils/sort"))
	inv, err = env.c.Invoke(ctx, "sortedLines", map[string]any{"payload": "c\nb\na"}, whisk.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Result, `{"lines":["a","b","c"],"length":3}`)
	mustPutPackage(t, env.c, "myutils", &whisk.Package{Binding: &whisk.Binding{Namespace: systemNamespace, Name: "utils"},
		Parameters: whisk.KeyValues{{Key: "num", Value: 2}}})
	inv, err = env.c.Invoke(ctx, "myutils/head", map[string]any{"lines": []string{"x", "y", "z"}}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Activation.Response.Result, `{"lines":["x","y"],"num":2}`)
	if v, _ := annotation(inv.Activation, "binding"); v != "guest/myutils" {
		t.Errorf("binding annotation %v", v)
	}
}

// TestCatalogShared: whisk.system's utils is a shared package of the
// platform's, read by every namespace, written by none, and never stored
// in the data directory.
func TestCatalogShared(t *testing.T) {
	dir := t.TempDir()
	p, c := openOn(t, dir, newPool(t))
	defer p.Close()
	ctx := ctxT(t)
	pkgs, err := c.ListPackages(ctx, systemNamespace, whisk.ListOptions{})
	shared := map[string]bool{}
	for _, p := range pkgs {
		shared[p.Name] = p.Publish && p.Namespace == systemNamespace
	}
	if err != nil || len(pkgs) != 2 || !shared["utils"] || !shared["alarms"] {
		t.Fatalf("whisk.system packages %+v, %v; want the shared utils and alarms", pkgs, err)
	}
	alarms, err := c.GetPackage(ctx, "/whisk.system/alarms")
	if err != nil {
		t.Fatal(err)
	}
	var feeds []string
	for _, f := range alarms.Feeds {
		feeds = append(feeds, f.Name)
	}
	if slices.Sort(feeds); !slices.Equal(feeds, []string{"alarm", "interval", "once"}) {
		t.Errorf("alarms feeds %v, want alarm, interval and once", feeds)
	}
	utils, err := c.GetPackage(ctx, "/whisk.system/utils")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, a := range utils.Actions {
		names[a.Name] = a.Annotations.Get("description") != nil
	}
	for _, want := range []string{"echo", "cat", "sort", "split", "head", "date"} {
		if !names[want] {
			t.Errorf("utils has no %s (or it has no description): %v", want, names)
		}
	}
	echo, err := c.GetAction(ctx, "/whisk.system/utils/echo")
	if err != nil || echo.Namespace != "whisk.system/utils" || echo.Exec.Kind != "nodejs:20" || echo.Exec.Code == "" {
		t.Errorf("echo %+v, %v", echo, err)
	}
	forbidden := func(what string) string {
		return "The supplied authentication is not authorized to access '" + what + "'."
	}
	body := `{"exec":{"kind":"nodejs:20","code":"function main() {}"}}`
	for _, tc := range []struct{ method, path, body, msg string }{
		{"PUT", "/api/v1/namespaces/whisk.system/actions/utils/mine", body, forbidden("whisk.system/utils/mine")},
		{"DELETE", "/api/v1/namespaces/whisk.system/actions/utils/echo", "", forbidden("whisk.system/utils/echo")},
		{"PUT", "/api/v1/namespaces/whisk.system/packages/utils?overwrite=true", "{}", forbidden("whisk.system/utils")},
		{"DELETE", "/api/v1/namespaces/whisk.system/packages/utils", "", forbidden("whisk.system/utils")},
		{"GET", "/api/v1/namespaces/whisk.system/actions", "", forbidden("whisk.system")},
	} {
		status, got := rawRequest(t, tc.method, p.APIHost()+tc.path, p.Users()[0].Key, tc.body)
		if status != http.StatusForbidden || got["error"] != tc.msg {
			t.Errorf("%s %s: %d %v, want 403 %q", tc.method, tc.path, status, got, tc.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "packages", systemNamespace)); !os.IsNotExist(err) {
		t.Errorf("the catalog is in the data directory: %v", err)
	}
}
