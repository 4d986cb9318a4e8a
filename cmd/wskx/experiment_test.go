package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExperimentFrom draws the committed results again without running
// anything: the figures go beside the document, the figures of an
// earlier layout go, another experiment's stay, and the document's
// regions are rewritten, each figure with its line.
func TestExperimentFrom(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	if err := os.MkdirAll(img, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"default-count-time.svg", "fanout-billed.svg"} {
		if err := os.WriteFile(filepath.Join(img, f), []byte("<svg/>"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc := filepath.Join(dir, "doc.md")
	prose := "# Results\n\n<!-- BEGIN GENERATED: default-summary -->\n<!-- END GENERATED: default-summary -->\n\n" +
		"<!-- BEGIN GENERATED: default-plots -->\nold\n<!-- END GENERATED: default-plots -->\n\nReading it.\n"
	if err := os.WriteFile(doc, []byte(prose), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runCLI(t, "experiment", "../../examples/experiments/default.yaml",
		"--from", "../../docs/results", "--docs", doc)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "self-invoke") {
		t.Errorf("no summary printed:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(img, "*.svg"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := []string{"default-billed.svg", "default-count-runs.svg", "default-lost.svg", "default-race-runs.svg", "fanout-billed.svg"}
	if !slices.Equal(names, want) {
		t.Errorf("img holds %v, want %v", names, want)
	}
	got, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"| deadline | 5 | 0 | dmtcp |",
		"![default-count-runs](img/default-count-runs.svg)\n\n*count: time and hops per run against n. default experiment;",
		"10 s action limit, 256 MB;",
		"![default-lost](img/default-lost.svg)",
		"\n\nReading it.\n",
	} {
		if !strings.Contains(string(got), w) {
			t.Errorf("document lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(string(got), "\nold\n") {
		t.Error("the plots region was not rewritten")
	}
	// Without --out nothing is written but the document and its figures.
	if _, err := os.Stat("experiment-results"); err == nil {
		t.Error("--from wrote into the default --out folder")
	}
}

func TestExperimentFromErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"another experiment's results", []string{"../../examples/experiments/fanout.yaml", "--from", "../../docs/results/results.json"},
			`workload "count", which experiment fanout does not have`},
		{"no results there", []string{"../../examples/experiments/default.yaml", "--from", t.TempDir()}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := runCLI(t, append([]string{"experiment"}, tt.args...)...)
			if code != 1 || !strings.Contains(errs, tt.err) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errs, tt.err)
			}
		})
	}
}
