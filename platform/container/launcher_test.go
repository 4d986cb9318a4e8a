package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLaunchersRefuseSecondInit speaks to the nodejs and python
// launchers directly, as OpenWhisk's BasicActionRunnerTests do: a second
// /init is refused with 403 and the message, which also reaches the
// container's output; /init without code is refused with the runtimes'
// "Missing main/no code to execute.".
func TestLaunchersRefuseSecondInit(t *testing.T) {
	tests := []struct {
		name, interpreter, file string
		source                  []byte
		code                    string
	}{
		{"nodejs", "node", "launcher.js", launcherJS, "function main(p) { return p }"},
		{"python", "python3", "launcher.py", launcherPy, "def main(args):\n    return args\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.interpreter); err != nil {
				t.Skipf("%s is not installed", tc.interpreter)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, tc.source, 0o644); err != nil {
				t.Fatal(err)
			}
			fresh := func() (string, *lockedBuffer) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				port := l.Addr().(*net.TCPAddr).Port
				l.Close()
				out := &lockedBuffer{}
				cmd := exec.Command(tc.interpreter, path, "--port", fmt.Sprint(port))
				cmd.Dir, cmd.Stdout, cmd.Stderr = t.TempDir(), out, out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				url := fmt.Sprintf("http://127.0.0.1:%d", port)
				for deadline := time.Now().Add(10 * time.Second); ; {
					if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
						c.Close()
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the launcher did not listen: %s", out.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
				return url, out
			}
			post := func(url, body string) (int, map[string]any) {
				req, _ := http.NewRequestWithContext(context.Background(), "POST", url+"/init", strings.NewReader(body))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var m map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, m
			}
			init, _ := json.Marshal(map[string]any{"value": map[string]any{"code": tc.code, "main": "main"}})
			url, out := fresh()
			if st, m := post(url, string(init)); st != 200 {
				t.Fatalf("first /init: %d %v", st, m)
			}
			const msg = "Cannot initialize the action more than once."
			if st, m := post(url, string(init)); st != 403 || m["error"] != msg {
				t.Errorf("second /init: %d %v, want 403 %q", st, m, msg)
			}
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), msg); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Errorf("the container's output %q lacks %q", out.String(), msg)
					break
				}
			}
			url, _ = fresh()
			if st, m := post(url, `{"value":{"code":"","main":"main"}}`); st != 403 || m["error"] != "Missing main/no code to execute." {
				t.Errorf("/init without code: %d %v, want 403 and the runtimes' message", st, m)
			}
		})
	}
}

// lockedBuffer collects a process's output, which its copying goroutines
// write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
