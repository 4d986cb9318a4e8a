package experiment

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var testSetting = Setting{Name: "x", Timeout: 10 * time.Second, Memory: 256}

// sweep is one workload's runs: every policy at every value of n, reps
// times, with the time and hops that measure gives.
func sweep(workload string, policies []string, ns []int, reps int, measure func(pol string, n, rep int) (ms int64, hops int)) []Result {
	var out []Result
	for _, n := range ns {
		for rep := 1; rep <= reps; rep++ {
			for _, p := range policies {
				ms, hops := measure(p, n, rep)
				out = append(out, Result{Run: Run{Workload: workload, Policy: p, Args: Case{"n": n, "pause_ms": 200}, Repetition: rep},
					Engine: "dmtcp", Success: true, ElapsedMS: ms, Metrics: Metrics{Hops: hops, BilledMS: ms}})
			}
		}
	}
	return out
}

// linear takes n*100 ms plus 10 ms per repetition and policy index.
func linear(policies []string) func(string, int, int) (int64, int) {
	return func(p string, n, rep int) (int64, int) {
		return int64(n*100 + rep*10 + slices.Index(policies, p)), n/10 + 1
	}
}

func figureOf(t *testing.T, figs []Figure, file string) Figure {
	t.Helper()
	for _, f := range figs {
		if f.File == file {
			return f
		}
	}
	var names []string
	for _, f := range figs {
		names = append(names, f.File)
	}
	t.Fatalf("no figure %s among %v", file, names)
	return Figure{}
}

// TestLineRule joins the medians only over at least minLinePoints values
// of the swept argument; fewer are categories, labelled as measured.
func TestLineRule(t *testing.T) {
	pols := []string{"a", "b"}
	tests := []struct {
		ns    []int
		line  bool
		ticks []Tick // the values measured, where they are drawn
	}{
		{[]int{40, 41}, false, []Tick{{0, "40"}, {1, "41"}}},
		{[]int{30, 70, 110}, false, []Tick{{0, "30"}, {1, "70"}, {2, "110"}}},
		{[]int{2, 4, 8, 16}, true, []Tick{{2, "2"}, {4, "4"}, {8, "8"}, {16, "16"}}},
		{[]int{1, 2, 3, 4, 5, 6}, true, []Tick{{1, "1"}, {2, "2"}, {3, "3"}, {4, "4"}, {5, "5"}, {6, "6"}}},
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, true, nil}, // too many to label one by one
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(len(tt.ns), " values"), func(t *testing.T) {
			f := figureOf(t, Figures(testSetting, sweep("w", pols, tt.ns, 1, linear(pols))), "x-w-runs.svg")
			for _, p := range f.Panels {
				if !slices.Equal(p.XTicks, tt.ticks) {
					t.Errorf("%s: x ticks %v, want %v", p.Title, p.XTicks, tt.ticks)
				}
				for _, s := range p.Series {
					if s.Line != tt.line {
						t.Errorf("%s %s: line %v, want %v", p.Title, s.Policy, s.Line, tt.line)
					}
					for _, m := range s.Medians {
						// A line carries the eye on a continuous axis; a
						// category needs the median's bar.
						if (m.HalfWidth > 0) == tt.line {
							t.Errorf("%s %s: median half width %v with line %v", p.Title, s.Policy, m.HalfWidth, tt.line)
						}
					}
				}
			}
			wantKey := EntryMedian
			if tt.line {
				wantKey = EntryMedianJoined
			}
			if last := f.Legend.Entries[len(f.Legend.Entries)-1]; last.Kind != wantKey {
				t.Errorf("legend's median entry is %+v, want kind %v", last, wantKey)
			}
		})
	}
}

// TestRunsPoints draws one point per finished run inside the axes, the
// median of each policy's runs at each value, and keeps the policies of
// one value in slots of their own.
func TestRunsPoints(t *testing.T) {
	pols := []string{"deadline", "interval", "single"}
	tests := []struct {
		name    string
		reps    int
		fail    int // runs marked failed, from the first
		medians map[string][]float64
	}{
		{"one run each", 1, 0, map[string][]float64{"deadline": {3.01, 7.01}, "single": {3.012, 7.012}}},
		{"three runs", 3, 0, map[string][]float64{"deadline": {3.02, 7.02}, "interval": {3.021, 7.021}}},
		{"two runs, a mean of two", 2, 0, map[string][]float64{"deadline": {3.015, 7.015}}},
		{"failed runs left out", 3, 2, map[string][]float64{"deadline": {3.025, 7.02}, "interval": {3.026, 7.021}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := sweep("w", pols, []int{30, 70}, tt.reps, linear(pols))
			for i := 0; i < tt.fail; i++ {
				rs[i].Success = false
			}
			f := figureOf(t, Figures(testSetting, rs), "x-w-runs.svg")
			tp := f.Panels[0]
			runs := 0
			for _, s := range tp.Series {
				runs += len(s.Runs)
				for _, p := range s.Runs {
					if p.X <= tp.XMin || p.X >= tp.XMax || p.Y <= tp.YMin || p.Y >= tp.YMax {
						t.Errorf("%s: run %+v outside the axes [%v,%v]x[%v,%v]", s.Policy, p, tp.XMin, tp.XMax, tp.YMin, tp.YMax)
					}
				}
				if want, ok := tt.medians[s.Policy]; ok {
					var got []float64
					for _, m := range s.Medians {
						got = append(got, m.Y)
					}
					if !close(got, want) {
						t.Errorf("%s: medians %v, want %v", s.Policy, got, want)
					}
				}
			}
			if want := len(rs) - tt.fail; runs != want {
				t.Errorf("%d points, want one per finished run, %d", runs, want)
			}
			if tt.fail > 0 && !strings.Contains(f.Setting, fmt.Sprintf("%d failed runs left out", tt.fail)) {
				t.Errorf("setting does not count the failed runs: %s", f.Setting)
			}
			// Policies' slots at one value do not overlap: every run and
			// median bar of policy j lies left of every one of policy j+1.
			for v := range 2 {
				prevRight := float64(v) - 0.5
				for _, s := range tp.Series {
					m := s.Medians[v]
					left, right := m.X-m.HalfWidth, m.X+m.HalfWidth
					for _, p := range s.Runs {
						if p.X < float64(v)-0.5 || p.X > float64(v)+0.5 {
							continue
						}
						left, right = min(left, p.X), max(right, p.X)
					}
					if left <= prevRight {
						t.Errorf("value %d: %s starts at %v, before the policy left of it ends (%v)", v, s.Policy, left, prevRight)
					}
					prevRight = right
				}
			}
		})
	}
}

func close(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d > 1e-9 || d < -1e-9 {
			return false
		}
	}
	return true
}

// TestStylesFollowPolicies gives a policy one colour and marker in every
// figure, by its place in the experiment, also in a workload that runs
// only some of the policies.
func TestStylesFollowPolicies(t *testing.T) {
	all := []string{"deadline", "interval", "single"}
	rs := sweep("count", all, []int{30, 70}, 1, linear(all))
	some := []string{"interval", "single"}
	rs = append(rs, sweep("race", some, []int{40, 41}, 1, linear(some))...)
	rs[0].Metrics.WorkLostMS = 500 // so that there is a lost-work figure
	figs := Figures(testSetting, rs)
	if len(figs) != 4 {
		t.Fatalf("%d figures, want count, race, billed, lost", len(figs))
	}
	want := map[string]Style{"deadline": styleAt(0), "interval": styleAt(1), "single": styleAt(2)}
	seen := 0
	check := func(fig, policy string, got Style) {
		seen++
		if got != want[policy] {
			t.Errorf("%s: %s drawn as %+v, want %+v", fig, policy, got, want[policy])
		}
	}
	for _, f := range figs {
		for _, p := range f.Panels {
			for _, s := range p.Series {
				check(f.File, s.Policy, s.Style)
			}
			for _, b := range p.Bars {
				check(f.File, b.Policy, b.Style)
			}
		}
		for _, e := range f.Legend.Entries {
			if e.Kind == EntryPolicy {
				check(f.File, e.Label, e.Style)
			}
		}
	}
	if seen < 20 {
		t.Errorf("only %d styled marks checked", seen)
	}
	if !reflect.DeepEqual(figs, Figures(testSetting, rs)) {
		t.Error("two descriptions of the same results differ")
	}
}

func TestStylesDiffer(t *testing.T) {
	seen := map[Style]int{}
	for i := range 42 {
		s := styleAt(i)
		if j, dup := seen[s]; dup {
			t.Fatalf("policies %d and %d share %+v", j, i, s)
		}
		seen[s] = i
	}
}

// TestLegendPlacement keeps every legend out of the plotting areas:
// runs figures list the policies in a column of their own, bars figures
// need none, as each bar is named on its axis and its value printed.
func TestLegendPlacement(t *testing.T) {
	pols := []string{"deadline", "single", "self-invoke"}
	rs := sweep("count", pols, []int{30, 70, 110}, 2, linear(pols))
	rs[1].Metrics.WorkLostMS, rs[0].Metrics.ConductorMS = 300, 20
	tests := []struct {
		file    string
		place   LegendPlace
		entries []string
	}{
		{"x-count-runs.svg", LegendRight, []string{"deadline", "single", "self-invoke", "one run", "median of the runs"}},
		{"x-billed.svg", LegendNone, nil},
		{"x-lost.svg", LegendNone, nil},
	}
	figs := Figures(testSetting, rs)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := figureOf(t, figs, tt.file)
			if f.Legend.Place != tt.place {
				t.Errorf("legend at %v, want %v", f.Legend.Place, tt.place)
			}
			var got []string
			for _, e := range f.Legend.Entries {
				got = append(got, e.Label)
			}
			if !slices.Equal(got, tt.entries) {
				t.Errorf("legend %v, want %v", got, tt.entries)
			}
			for _, p := range f.Panels {
				for _, b := range p.Bars {
					if b.Label == "" || !slices.Contains(p.YTicks, Tick{At: b.At, Label: b.Policy}) {
						t.Errorf("%s: bar %+v is not named on its axis and labelled with its value", p.Title, b)
					}
				}
			}
		})
	}
}

// TestBarPanels gives each small part of the bill a panel of its own
// when some policy has it and it does not repeat the part before it.
func TestBarPanels(t *testing.T) {
	type small struct{ conductor, double, waiting, lost int64 }
	tests := []struct {
		name    string
		parts   map[string]small
		panels  []string
		cols    int
		reading []string
	}{
		{"job policies", map[string]small{"deadline": {21, 0, 0, 0}, "self-invoke": {0, 42, 0, 2729}},
			[]string{"billed, all activations (s)", "conductor runs (ms)", "billed twice (ms)"}, 3,
			[]string{"conductor runs: only deadline, 21 ms", "billed twice: only self-invoke, 42 ms", "billed while waiting: none"}},
		{"a join that waits", map[string]small{"wait": {29240, 27365, 27365, 0}, "handoff": {460, 0, 0, 0}},
			[]string{"billed, all activations (s)", "conductor runs (ms)", "billed twice (ms)"}, 3,
			[]string{"conductor runs: wait 29240 ms, handoff 460 ms", "billed while waiting: the same as billed twice"}},
		{"waiting apart", map[string]small{"a": {10, 50, 20, 0}, "b": {10, 0, 0, 0}},
			[]string{"billed, all activations (s)", "conductor runs (ms)", "billed twice (ms)", "billed while waiting (ms)"}, 2,
			[]string{"billed twice: only a, 50 ms", "billed while waiting: only a, 20 ms"}},
		{"plain actions", map[string]small{"a": {}, "b": {}},
			[]string{"billed, all activations (s)"}, 1,
			[]string{"conductor runs: none", "billed twice: none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs []Result
			var names []string
			for p := range tt.parts {
				names = append(names, p)
			}
			slices.Sort(names)
			for i, p := range names {
				s := tt.parts[p]
				rs = append(rs, Result{Run: Run{Workload: "w", Policy: p, Args: Case{"n": 1}}, Success: true,
					Metrics: Metrics{BilledMS: int64(60000 + i*1000), ConductorMS: s.conductor, DoubleBilledMS: s.double, WaitingMS: s.waiting, WorkLostMS: s.lost}})
			}
			figs := Figures(testSetting, rs)
			f := figureOf(t, figs, "x-billed.svg")
			var got []string
			for _, p := range f.Panels {
				got = append(got, p.Title)
				if p.Kind != PanelBars || len(p.Bars) != len(names) {
					t.Errorf("%s: kind %v with %d bars, want bars for %d policies", p.Title, p.Kind, len(p.Bars), len(names))
				}
			}
			if !slices.Equal(got, tt.panels) || f.Cols != tt.cols {
				t.Errorf("panels %v in %d columns, want %v in %d", got, f.Cols, tt.panels, tt.cols)
			}
			for _, w := range tt.reading {
				if !strings.Contains(f.Reading, w) {
					t.Errorf("reading lacks %q: %s", w, f.Reading)
				}
			}
			lost := slices.ContainsFunc(figs, func(f Figure) bool { return f.File == "x-lost.svg" })
			if wantLost := slices.ContainsFunc(rs, func(r Result) bool { return r.Metrics.WorkLostMS > 0 }); lost != wantLost {
				t.Errorf("lost-work figure %v, want %v", lost, wantLost)
			}
		})
	}
}

// TestSettingAndReading checks what a figure says about itself: the
// workload and its fixed arguments, the action limit, the engines, the
// number of runs, and a reading of the data.
func TestSettingAndReading(t *testing.T) {
	pols := []string{"deadline", "cooperative", "single"}
	rs := sweep("count", pols, []int{30, 70, 110}, 3, func(p string, n, rep int) (int64, int) {
		ms := map[string]int64{"deadline": 1100, "cooperative": 1000, "single": 1000}[p] * int64(n) / 10
		hops := map[string]int{"deadline": n / 30, "cooperative": n / 30, "single": 1}[p]
		return ms + int64(rep*10), hops
	})
	for i := range rs {
		switch rs[i].Policy {
		case "cooperative":
			rs[i].Engine = "cooperative"
		case "single":
			rs[i].Engine = "none"
		}
	}
	figs := Figures(testSetting, rs)
	tests := []struct {
		file string
		want []string
	}{
		{"x-count-runs.svg", []string{
			"x experiment", "workload count (pause_ms 200)", "10 s action limit, 256 MB",
			"engine dmtcp (cooperative: cooperative, single: none)", "3 runs per policy and n, 27 in all",
			"At n = 110 the median time runs from 11.0 s (cooperative) to 12.1 s (deadline, 10% more)",
			"differ by at most 0.02 s", "Hops there: 1 (single), 3 (deadline, cooperative).",
		}},
		{"x-billed.svg", []string{
			"workload count;", "9 runs per policy, 27 in all",
			"least cooperative", "most deadline",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := figureOf(t, figs, tt.file)
			text := f.Title + ". " + f.Setting + ". " + f.Reading
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestEngineText(t *testing.T) {
	run := func(p, e string) Result { return Result{Run: Run{Policy: p}, Engine: e} }
	tests := []struct {
		runs []Result
		want string
	}{
		{[]Result{run("a", "dmtcp"), run("b", "dmtcp")}, "engine dmtcp"},
		{[]Result{run("a", "dmtcp"), run("b", "cooperative"), run("c", "dmtcp")}, "engine dmtcp (b: cooperative)"},
		{[]Result{run("a", ""), run("b", "")}, "no job engine"},
		{[]Result{run("a", "dmtcp"), run("b", "")}, "engine dmtcp (b: no engine reported)"},
		// A policy's engine is the one its runs reported, a failed run's
		// empty engine aside.
		{[]Result{run("a", "dmtcp"), run("a", ""), run("b", "dmtcp")}, "engine dmtcp"},
	}
	for _, tt := range tests {
		if got := engineText(tt.runs); got != tt.want {
			t.Errorf("engineText(%+v) = %q, want %q", tt.runs, got, tt.want)
		}
	}
}

// TestFiguresNoSweep draws no runs figure for a workload with a single
// case, and no figures at all for no results.
func TestFiguresNoSweep(t *testing.T) {
	var names []string
	for _, f := range Figures(Setting{Name: "fanout"}, fanoutResults()) {
		names = append(names, f.File)
	}
	if want := []string{"fanout-billed.svg"}; !slices.Equal(names, want) {
		t.Errorf("figures %v, want %v (one case: no sweep to plot, nothing lost)", names, want)
	}
	if figs := Figures(testSetting, nil); len(figs) != 0 {
		t.Errorf("figures of no results: %v", figs)
	}
}
