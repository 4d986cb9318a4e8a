package experiment

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
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
	results[3].Metrics.WorkLostMS = 2700
	a, b := t.TempDir(), t.TempDir()
	fa, err := WritePlots(a, "x", results)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WritePlots(b, "x", results); err != nil {
		t.Fatal(err)
	}
	want := []string{"x-count-time.svg", "x-count-hops.svg", "x-billed.svg", "x-lost.svg"}
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

// TestWritePlotsNothingLost leaves out the lost-work figure when nothing
// was lost, as in a composition of plain actions.
func TestWritePlotsNothingLost(t *testing.T) {
	files, err := WritePlots(t.TempDir(), "fanout", fanoutResults())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if want := []string{"fanout-billed.svg"}; !slices.Equal(names, want) {
		t.Errorf("wrote %v, want %v (one case: no sweep to plot, nothing lost)", names, want)
	}
}
