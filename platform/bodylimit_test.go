package platform

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// TestOversizedBodies sends bodies far past the limits, with net/http's
// client and with one that writes all of the request before it reads, as
// simple clients do, and checks that both read the JSON error rather than
// a reset connection.
func TestOversizedBodies(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "echo", testAction("echo"))
	// A JSON object of n bytes, so that only its size is wrong.
	object := func(n int) []byte {
		b := make([]byte, 0, n)
		b = append(b, `{"big":"`...)
		b = append(b, bytes.Repeat([]byte("x"), n-len(b)-2)...)
		return append(b, `"}`...)
	}
	const mb = 1000 * 1000
	tests := []struct {
		name, method, path, key string
		size, status            int
		want                    string // error message prefix
	}{
		{"invoke", "POST", "/api/v1/namespaces/_/actions/echo?blocking=true", env.key, 50 * mb, 413, "Request larger than allowed: 50000000 > 1048576 bytes."},
		{"invoke just over", "POST", "/api/v1/namespaces/_/actions/echo", env.key, maxPayload + 1, 413, "Request larger than allowed:"},
		{"put", "PUT", "/api/v1/namespaces/_/actions/big?overwrite=true", env.key, maxCode + maxPayload + 2<<20, 413, "Request larger than allowed:"},
		{"no such action", "POST", "/api/v1/namespaces/_/actions/missing", env.key, 50 * mb, 404, msgNotFound},
		{"no key", "POST", "/api/v1/namespaces/_/actions/echo", "", 50 * mb, 401, msgUnauthorized},
	}
	clients := []struct {
		name string
		do   func(*http.Request) (*http.Response, error)
	}{
		{"net/http", http.DefaultClient.Do},
		{"write then read", writeThenRead},
	}
	for _, tc := range tests {
		for _, cl := range clients {
			t.Run(tc.name+"/"+cl.name, func(t *testing.T) {
				req, err := http.NewRequestWithContext(ctxT(t), tc.method, env.url+tc.path, bytes.NewReader(object(tc.size)))
				if err != nil {
					t.Fatal(err)
				}
				if id, secret, ok := strings.Cut(tc.key, ":"); ok {
					req.SetBasicAuth(id, secret)
				}
				resp, err := cl.do(req)
				if err != nil {
					t.Fatalf("the client did not get the answer: %v", err)
				}
				checkAnswer(t, resp, tc.status, tc.want)
			})
		}
	}
	// The platform still answers afterwards.
	inv, err := env.c.Invoke(ctxT(t), "echo", map[string]any{"ok": true}, whisk.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Result, `{"ok":true}`)
}

func checkAnswer(t *testing.T, resp *http.Response, status int, want string) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%d: reading the body: %v", resp.StatusCode, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%d: body %q is not JSON", resp.StatusCode, b)
	}
	if msg, _ := m["error"].(string); resp.StatusCode != status || !strings.HasPrefix(msg, want) {
		t.Errorf("%d %v, want %d %q", resp.StatusCode, m, status, want)
	}
}

// writeThenRead sends req on a connection of its own, all of it, and only
// then reads the answer.
func writeThenRead(req *http.Request) (*http.Response, error) {
	conn, err := net.Dial("tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	if d, ok := req.Context().Deadline(); ok {
		conn.SetDeadline(d)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	conn.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return resp, nil
}
