package container

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
}

// TestPython runs python actions as OpenWhisk's Python runtime runs them:
// code text or a zip with __main__.py (and its virtualenv), main by name,
// exceptions as application errors, results that must be a dictionary or
// an array.
func TestPython(t *testing.T) {
	needPython(t)
	p := newPool(t, nil)
	// A virtualenv as python -m venv lays it out, with a module in its
	// site-packages that __main__.py imports.
	venvZip := zipB64(t, map[string]string{
		"__main__.py": "import greeting\ndef main(args):\n    return {'greeting': greeting.hello(args.get('name', 'stranger'))}\n",
		"virtualenv/lib/python3.11/site-packages/greeting.py": "def hello(n):\n    return 'Hello ' + n\n",
	})
	tests := []struct {
		name       string
		exec       whisk.Exec
		value      any
		wantStatus int
		wantResult string // exact JSON
		wantError  string // prefix of the error text
		wantLog    string // "stream: text", text a prefix of a line
	}{
		{name: "identity", exec: whisk.Exec{Kind: "python:3.10", Code: "def main(args):\n    return args\n"},
			value: map[string]any{"a": "ü", "n": 1}, wantResult: `{"a": "ü", "n": 1}`},
		{name: "named main and print", exec: whisk.Exec{Kind: "python:3.11", Main: "hello", Code: "def hello(args):\n    print('hi', args['x'])\n    return {'x': args['x']}\n"},
			value: map[string]any{"x": 5}, wantResult: `{"x": 5}`, wantLog: "stdout: hi 5"},
		{name: "array result", exec: whisk.Exec{Kind: "python:3.10", Code: "def main(args):\n    return [1, 2]\n"}, wantResult: `[1, 2]`},
		{name: "array input", exec: whisk.Exec{Kind: "python:3.10", Code: "def main(args):\n    return {'n': len(args)}\n"},
			value: []any{1, 2, 3}, wantResult: `{"n": 3}`},
		{name: "guarded part does not run", exec: whisk.Exec{Kind: "python:3.10", Code: "x = 1\nif __name__ == '__main__':\n    x = 2\ndef main(args):\n    return {'x': x}\n"},
			wantResult: `{"x": 1}`},
		{name: "activation env", exec: whisk.Exec{Kind: "python:3.10", Code: "import os\ndef main(args):\n    return {'ns': os.environ['__OW_NAMESPACE'], 'host': os.environ['__OW_API_HOST']}\n"},
			wantResult: `{"ns": "guest", "host": "http://127.0.0.1:1"}`},
		{name: "error result", exec: whisk.Exec{Kind: "python:3.10", Code: "def main(args):\n    return {'error': 'bad', 'other': 1}\n"},
			wantStatus: StatusAppError, wantResult: `{"error":"bad"}`},
		{name: "exception", exec: whisk.Exec{Kind: "python:3.10", Code: "def main(args):\n    raise ValueError('kaput')\n"},
			wantStatus: StatusAppError, wantResult: `{"error":"kaput"}`, wantLog: "stderr: ValueError: kaput"},
		{name: "scalar result", exec: whisk.Exec{Kind: "python:3.10", Code: "def main(args):\n    return 3\n"},
			wantStatus: StatusDevError, wantError: "The action did not return a dictionary or array."},
		{name: "syntax error", exec: whisk.Exec{Kind: "python:3.10", Code: "def main(args:\n"},
			wantStatus: StatusDevError, wantError: "The action failed to generate or locate a binary.", wantLog: "stderr: SyntaxError"},
		{name: "main missing", exec: whisk.Exec{Kind: "python:3.10", Code: "def other(args):\n    return {}\n"},
			wantStatus: StatusDevError, wantError: "The action failed to generate or locate a binary."},
		{name: "no code", exec: whisk.Exec{Kind: "python:3.10", Code: ""},
			wantStatus: StatusDevError, wantError: "Missing main/no code to execute."},
		{name: "zip with a virtualenv", exec: whisk.Exec{Kind: "python:3.10", Binary: true, Code: venvZip},
			value: map[string]any{"name": "Ada"}, wantResult: `{"greeting": "Hello Ada"}`},
		{name: "zip without __main__.py", exec: whisk.Exec{Kind: "python:3.10", Binary: true, Code: zipB64(t, map[string]string{"x.py": ""})},
			wantStatus: StatusDevError, wantError: "The action failed to generate or locate a binary.", wantLog: "stderr: Exception: Zip file does not include __main__.py"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := run(t, p, spec(tc.exec, 20000, 256), tc.value)
			if out.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; result %s; logs %q", out.StatusCode, tc.wantStatus, out.Result, out.Logs)
			}
			if tc.wantResult != "" && string(out.Result) != tc.wantResult {
				t.Errorf("result %s, want %s", out.Result, tc.wantResult)
			}
			if tc.wantError != "" && !strings.HasPrefix(errorText(t, out), tc.wantError) {
				t.Errorf("error %q, want prefix %q", errorText(t, out), tc.wantError)
			}
			if tc.wantLog != "" {
				stream, text, _ := strings.Cut(tc.wantLog, ": ")
				if !slices.ContainsFunc(out.Logs, func(l string) bool { return strings.Contains(l, " "+stream+": "+text) }) {
					t.Errorf("logs %q lack %q", out.Logs, tc.wantLog)
				}
			}
			for _, l := range out.Logs {
				if strings.Contains(l, Sentinel) {
					t.Errorf("log line %q", l)
				}
			}
		})
	}
}
