package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wskx/wskx/composer"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), getenv: func(string) string { return "" }}
	code = run(context.Background(), env, args)
	return out.String(), errb.String(), code
}

func TestComposeExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/compositions/*.yaml")
	if len(files) < 3 {
		t.Fatalf("want at least three examples, got %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, errs, code := runCLI(t, "compose", f)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var plan composer.Plan
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&plan); err != nil {
				t.Fatalf("output is not a plan: %v\n%s", err, out)
			}
			if plan.Conductor.Exec == nil || len(plan.Steps) == 0 || plan.Steps[0].Exec == nil || plan.Conductor.Annotations.Get("conductor") != true {
				t.Errorf("incomplete plan: %+v", plan)
			}
		})
	}
}

func TestComposeWritesFile(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "plan.json")
	if _, errs, code := runCLI(t, "compose", "../../examples/compositions/deadline.yaml", "-o", dst); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(dst)
	if err != nil || !json.Valid(b) {
		t.Fatalf("written file: %v %q", err, b)
	}
	// A failed compose must leave the earlier file as it was.
	if _, _, code := runCLI(t, "compose", "../../policies/testdata/bad-many.yaml", "-o", dst); code != 1 {
		t.Fatalf("bad policy exit %d", code)
	}
	if after, _ := os.ReadFile(dst); !bytes.Equal(after, b) {
		t.Error("a failed compose changed the output file")
	}
}

func TestComposeBadInput(t *testing.T) {
	_, errs, code := runCLI(t, "compose", "../../policies/testdata/bad-many.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"../../policies/testdata/bad-many.yaml:4:11: job.engine:",
		"../../policies/testdata/bad-many.yaml:5:12: job.timeout:",
		"../../policies/testdata/bad-many.yaml:6:3: job.memroy: unknown field",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{[]string{}, 2, "Commands:", ""},
		{[]string{"help"}, 0, "compose", ""},
		{[]string{"nosuch"}, 2, "", `unknown command "nosuch"`},
		{[]string{"compose"}, 2, "", "usage: wskx compose FILE"},
		{[]string{"compose", "--bogus"}, 2, "", "unknown flag: --bogus"},
		{[]string{"compose", "/nonexistent.yaml"}, 1, "", "no such file"},
		{[]string{"version"}, 0, "wskx ", ""},
		{[]string{"help", "compose"}, 0, "Examples:", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errs, code := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.err) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
		})
	}
}

// Every command teaches: --help prints a usage line, an explanation and an
// example, and exits 0.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			out, _, code := runCLI(t, c.name, "--help")
			if code != 0 || !strings.HasPrefix(out, "Usage: wskx "+c.name) || !strings.Contains(out, "Example") {
				t.Errorf("exit %d:\n%s", code, out)
			}
			if c.summary == "" {
				t.Error("no summary")
			}
		})
	}
}
