package experiment

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestWritePlots renders every kind of figure, each to the file its
// description names, the same bytes for the same results.
func TestWritePlots(t *testing.T) {
	pols := []string{"deadline", "self-invoke"}
	rs := sweep("count", pols, []int{30, 70, 110, 150}, 2, linear(pols))
	rs = append(rs, sweep("race", pols, []int{40, 41}, 1, linear(pols))...)
	rs[1].Metrics.WorkLostMS, rs[1].Metrics.DoubleBilledMS, rs[0].Metrics.ConductorMS = 2700, 40, 20
	figs := Figures(testSetting, rs)
	a, b := t.TempDir(), t.TempDir()
	fa, err := WritePlots(a, figs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WritePlots(b, Figures(testSetting, rs)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fa {
		names = append(names, filepath.Base(f))
	}
	if want := []string{"x-count-runs.svg", "x-race-runs.svg", "x-billed.svg", "x-lost.svg"}; !slices.Equal(names, want) {
		t.Fatalf("wrote %v, want %v", names, want)
	}
	for _, name := range names {
		x, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		y, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Contains(x, []byte("<svg")) {
			t.Errorf("%s is not SVG", name)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two renderings of the same results", name)
		}
		// A viewer without Liberation Sans is sent to a face of the same
		// metrics, not to its default serif.
		if bytes.Contains(x, []byte("font-family:Liberation Sans;")) || !bytes.Contains(x, []byte("Arial")) {
			t.Errorf("%s names Liberation Sans without a fallback", name)
		}
	}
}

func TestRenderNoPanels(t *testing.T) {
	if _, err := Render(Figure{File: "x-empty.svg"}); err == nil {
		t.Error("no error for a figure without panels")
	}
}

func TestValueTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []string
	}{
		{3.0, 3.27, []string{"3.00", "3.05", "3.10", "3.15", "3.20", "3.25"}},
		{4.5, 27.5, []string{"5", "10", "15", "20", "25"}},
		{7.9, 10.4, []string{"8.0", "8.5", "9.0", "9.5", "10.0"}},
		{0, 130, []string{"0", "25", "50", "75", "100", "125"}},
		{0.2, 0.45, []string{"0.20", "0.25", "0.30", "0.35", "0.40", "0.45"}},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range (valueTicks{}).Ticks(tt.lo, tt.hi) {
			got = append(got, tk.Label)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ticks over [%v, %v] = %v, want %v", tt.lo, tt.hi, got, tt.want)
		}
	}
}
