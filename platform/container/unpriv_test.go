package container

import (
	"os"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// TestUnprivilegedActions checks that, when the pool is root, native and
// nodejs actions run as an unprivileged user that can write its working
// and temporary directories, and blackbox containers stay root.
func TestUnprivilegedActions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the pool is not root: actions run as its own user")
	}
	p := newPool(t, nil)
	if p.user == nil {
		t.Fatal("the pool is root and has no unprivileged user for actions")
	}
	native := "#!/bin/sh\n" +
		`echo a > ./f && echo b > "$TMPDIR/f" && w=true || w=false` + "\n" +
		`printf '{"uid":%s,"gid":%s,"groups":"%s","wrote":%s,"home":"%s"}\n' "$(id -u)" "$(id -g)" "$(id -G)" "$w" "$HOME"` + "\n"
	node := `const fs = require('fs'), os = require('os'), path = require('path')
function main() {
  fs.writeFileSync('f', 'a')
  fs.writeFileSync(path.join(os.tmpdir(), 'f'), 'b')
  return { uid: process.getuid(), gid: process.getgid(), groups: process.getgroups().join(' '), wrote: true, home: os.homedir() }
}`
	tests := []struct {
		name string
		exec whisk.Exec
		node bool
	}{
		{"native", whisk.Exec{Kind: "native", Code: native}, false},
		{"dockerskeleton", whisk.Exec{Kind: "blackbox", Image: SkeletonImage, Code: zipB64(t, map[string]string{"exec*": native}), Binary: true}, false},
		{"nodejs", whisk.Exec{Kind: "nodejs:20", Code: node}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.node {
				needNode(t)
			}
			out := run(t, p, spec(tc.exec, 20000, 256), map[string]any{})
			if out.StatusCode != StatusSuccess {
				t.Fatalf("status %d: %s %q", out.StatusCode, out.Result, out.Logs)
			}
			m := resultMap(t, out)
			if uid, _ := m["uid"].(float64); uid == 0 || uint32(uid) != p.user.uid {
				t.Errorf("uid %v, want the unprivileged %d", m["uid"], p.user.uid)
			}
			if gid, _ := m["gid"].(float64); gid == 0 {
				t.Errorf("gid %v, want non-zero", m["gid"])
			}
			if groups, _ := m["groups"].(string); strings.Contains(" "+groups+" ", " 0 ") {
				t.Errorf("groups %q include root's", groups)
			}
			if m["wrote"] != true {
				t.Errorf("could not write its directories: %v", m)
			}
			if home, _ := m["home"].(string); !strings.HasPrefix(home, p.user.dir) {
				t.Errorf("home %q, want under %s", home, p.user.dir)
			}
		})
	}
	t.Run("blackbox stays root", func(t *testing.T) {
		out := run(t, p, spec(whisk.Exec{Kind: "blackbox", Image: "test/bbox"}, 20000, 256), map[string]any{"uid": true})
		if m := resultMap(t, out); m["uid"] != 0.0 {
			t.Errorf("blackbox uid %v, want 0", m["uid"])
		}
	})
}
