package experiment

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWritePlotsDeterministic(t *testing.T) {
	results := sampleResults()
	// A second argument value so that count has a sweep to plot.
	for _, r := range sampleResults() {
		r.Args = Case{"n": 70}
		r.ElapsedMS *= 2
		results = append(results, r)
	}
	a, b := t.TempDir(), t.TempDir()
	fa, err := WritePlots(a, results)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WritePlots(b, results); err != nil {
		t.Fatal(err)
	}
	want := []string{"count-time.svg", "count-hops.svg", "billed.svg", "lost.svg"}
	if len(fa) != len(want) {
		t.Fatalf("wrote %v, want %v", fa, want)
	}
	for i, name := range want {
		if filepath.Base(fa[i]) != name {
			t.Errorf("file %d = %s, want %s", i, fa[i], name)
		}
		x, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		y, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Contains(x, []byte("<svg")) {
			t.Errorf("%s is not SVG", name)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs on the same results", name)
		}
	}
}
