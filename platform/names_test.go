package platform

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// TestLongNames checks names up to OpenWhisk's 256 characters per segment
// through create, invoke, restart and delete, and the 400 past it.
func TestLongNames(t *testing.T) {
	dir := t.TempDir()
	runner := newPool(t)
	ctx := ctxT(t)
	open := func() (*Platform, *whisk.Client) { return openOn(t, dir, runner) }
	long := func(n int) string { return strings.Repeat("n", n) }
	longPkg := strings.Repeat("p", 256)
	good := []string{long(250), long(251), long(255), long(256), longPkg + "/" + long(256), "short/" + long(256)}

	p, c := open()
	mustPutPackage(t, c, longPkg, nil)
	mustPutPackage(t, c, "short", nil)
	for _, name := range good {
		mustPut(t, c, name, testAction("echo"))
		inv, err := c.Invoke(ctx, name, map[string]any{"len": len(name)}, whisk.InvokeOptions{Blocking: true, Result: true})
		if err != nil {
			t.Fatalf("invoke %d-character name: %v", len(name), err)
		}
		jsonEqual(t, inv.Result, `{"len":`+strconv.Itoa(len(name))+`}`)
	}
	p.Close()

	p, c = open()
	defer p.Close()
	for _, name := range good {
		a, err := c.GetAction(ctx, name)
		if err != nil || a.Name != lastSegment(name) {
			t.Fatalf("get %d-character name after restart: %v", len(name), err)
		}
	}
	bad := []struct {
		path string
		want string
	}{
		{"/api/v1/namespaces/_/actions/" + long(257), "Name segement longer than allowed: 257 > 256."},
		{"/api/v1/namespaces/_/actions/pkg/" + long(300), "Name segement longer than allowed: 300 > 256."},
		{"/api/v1/namespaces/_/actions/" + long(257) + "/a", "Name segement longer than allowed: 257 > 256."},
		{"/api/v1/namespaces/" + long(257) + "/actions/a", "Namespace longer than allowed: 257 > 256."},
		{"/api/v1/namespaces/_/actions/a/b/c", msgNameIllegal},
		{"/api/v1/namespaces/bad$ns/actions/a", msgNSIllegal},
	}
	for _, b := range bad {
		for _, method := range []string{http.MethodPut, http.MethodGet, http.MethodPost, http.MethodDelete} {
			status, body := rawRequest(t, method, p.APIHost()+b.path, p.Users()[0].Key, `{"exec":{"kind":"blackbox","image":"wskx/testaction"}}`)
			if status != http.StatusBadRequest || body["error"] != b.want {
				t.Errorf("%s %.60s...: %d %v, want 400 %q", method, b.path, status, body, b.want)
			}
		}
	}
	for _, name := range good {
		if _, err := c.DeleteAction(ctx, name); err != nil {
			t.Fatalf("delete %d-character name: %v", len(name), err)
		}
	}
	left := 0
	filepath.WalkDir(filepath.Join(dir, "actions"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left++
			t.Errorf("left after delete: %s", path)
		}
		return nil
	})
}

func TestFileName(t *testing.T) {
	tests := []struct {
		name   string
		hashed bool
	}{
		{"echo", false},
		{"pkg/echo", false},
		{strings.Repeat("a", maxEscaped), false},
		{strings.Repeat("a", maxEscaped+1), true},
		{strings.Repeat("a", 256) + "/" + strings.Repeat("b", 256), true},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		f := fileName(tc.name)
		if len(f)+len(".json")+len(".tmp-1234567890") > 255 {
			t.Errorf("%d-character name: file name of %d bytes", len(tc.name), len(f))
		}
		if got := strings.HasPrefix(f, "~"); got != tc.hashed {
			t.Errorf("%d-character name: hashed %v, want %v", len(tc.name), got, tc.hashed)
		}
		if other, dup := seen[f]; dup {
			t.Errorf("%q and %q share file name %q", other, tc.name, f)
		}
		seen[f] = tc.name
	}
}
