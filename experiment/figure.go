package experiment

import (
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
)

// A figure is described before it is drawn. Figures decides from the
// results every panel, point, colour, legend entry and caption, as plain
// values; Render only draws a description. So the rules a reader relies
// on (a policy keeps its colour, no legend over the data, no line between
// settings that were never interpolated) are tested on values, not on
// SVG.

// minLinePoints is how many distinct values a swept argument needs
// before the medians are joined by a line. Fewer are separate settings
// (two sizes of a race, three job lengths): a line between them would
// draw a trend that was never measured.
const minLinePoints = 4

// maxValueTicks is how many swept values a continuous axis labels one by
// one; more are left to the axis's own ticks.
const maxValueTicks = 10

// Setting is what a figure says about the experiment besides its data,
// so that a figure copied out of its page keeps its meaning.
type Setting struct {
	Name    string        // the experiment's name, the prefix of every file
	Timeout time.Duration // the platform's action limit
	Memory  int           // MB
}

// SettingOf is the setting of an experiment file.
func SettingOf(f *File) Setting {
	return Setting{Name: f.Name, Timeout: f.Platform.Timeout, Memory: f.Platform.Memory}
}

// Figure describes one figure file.
type Figure struct {
	File    string // file name: the experiment's name, a dash, what it shows
	Title   string // what is plotted
	Setting string // workload, action limit, engine, runs
	Reading string // one line read from the data, for the page under the figure
	Cols    int    // panels per row
	Panels  []Panel
	Legend  Legend
}

// PanelKind is what a panel draws.
type PanelKind int

const (
	// PanelRuns draws one point per run against the swept argument and
	// the median of the runs at each of its values.
	PanelRuns PanelKind = iota
	// PanelBars draws one horizontal bar per policy, its value printed
	// at its end and the policy named on the axis.
	PanelBars
)

// Panel is one set of axes.
type Panel struct {
	Kind           PanelKind
	Title          string
	XLabel, YLabel string
	// XTicks label the swept values of a runs panel (at their indexes
	// when the axis is categorical, too few values to join); YTicks name
	// the policies of a bars panel. Nil leaves the ticks to the axis.
	XTicks, YTicks []Tick
	// The axes' ranges, padded so that no point or bar label touches
	// the frame.
	XMin, XMax, YMin, YMax float64
	IntegerY               bool // counts: whole-number ticks only
	Series                 []Series
	Bars                   []Bar
}

// Tick is a labelled position on an axis.
type Tick struct {
	At    float64
	Label string
}

// Series is one policy's runs in a runs panel.
type Series struct {
	Policy  string
	Style   Style
	Runs    []Point  // one per run
	Medians []Median // one per value of the swept argument
	Line    bool     // join the medians
}

// Point is a position in data coordinates.
type Point struct{ X, Y float64 }

// Median marks the median of one policy's runs at one value: a short
// horizontal bar HalfWidth either side of X, or, with HalfWidth 0 (a
// continuous axis, where the line carries the eye), a filled marker.
type Median struct {
	X, Y, HalfWidth float64
}

// Bar is one policy's value in a bars panel.
type Bar struct {
	Policy string
	Style  Style
	At     float64 // position on the policy axis
	Value  float64
	Label  string // the value as printed at the bar's end
}

// LegendPlace is where a figure's legend goes.
type LegendPlace int

const (
	// LegendNone: the figure names what it shows directly (bars with the
	// policy on the axis and the value printed).
	LegendNone LegendPlace = iota
	// LegendRight: a column right of the panels, outside every plotting
	// area.
	LegendRight
)

// Legend is a figure's key.
type Legend struct {
	Place   LegendPlace
	Entries []LegendEntry
}

// EntryKind is what a legend entry's swatch shows.
type EntryKind int

const (
	EntryPolicy       EntryKind = iota // the policy's marker and colour
	EntryRun                           // the hollow marker of one run
	EntryMedian                        // the median's short bar
	EntryMedianJoined                  // the median's filled marker on its line
)

// LegendEntry is one line of a legend.
type LegendEntry struct {
	Kind  EntryKind
	Label string
	Style Style
}

// Marker is the shape of a policy's points.
type Marker int

const (
	MarkerCircle Marker = iota
	MarkerSquare
	MarkerTriangle
	MarkerDiamond
	MarkerCross
	MarkerPlus
	markerCount
)

// Style is how a policy is drawn in every figure of an experiment.
type Style struct {
	Color  color.RGBA
	Marker Marker
}

// neutral is the style of legend entries that explain a mark rather than
// name a policy.
func neutral() Style { return Style{Color: color.RGBA{0x55, 0x55, 0x55, 0xff}, Marker: MarkerCircle} }

// palette is the Okabe-Ito set, told apart with the common colour vision
// deficiencies, without its yellow, which is unreadable on white.
func palette() []color.RGBA {
	return []color.RGBA{
		{0x00, 0x72, 0xb2, 0xff}, // blue
		{0xd5, 0x5e, 0x00, 0xff}, // vermillion
		{0x00, 0x9e, 0x73, 0xff}, // bluish green
		{0xcc, 0x79, 0xa7, 0xff}, // reddish purple
		{0xe6, 0x9f, 0x00, 0xff}, // orange
		{0x56, 0xb4, 0xe9, 0xff}, // sky blue
		{0x00, 0x00, 0x00, 0xff}, // black
	}
}

// styleAt is the style of the i-th policy of an experiment. Seven
// colours against six shapes: the first 42 policies differ in both or
// at least one.
func styleAt(i int) Style {
	p := palette()
	return Style{Color: p[i%len(p)], Marker: Marker(i % int(markerCount))}
}

// styles gives each policy of an experiment its style by its place in
// the results (the experiment file's order: policies, then baselines),
// over all workloads, so that a workload run under some policies only
// draws them as every other figure does.
type styles struct {
	order []string
	by    map[string]Style
}

func stylesOf(results []Result) styles {
	s := styles{by: map[string]Style{}}
	for _, r := range results {
		if _, ok := s.by[r.Policy]; !ok {
			s.by[r.Policy] = styleAt(len(s.order))
			s.order = append(s.order, r.Policy)
		}
	}
	return s
}

// Figures describes every figure of an experiment's results, in the
// order the page shows them: per workload with a swept argument, time
// and hops per run; then the billed time per policy with its small
// parts; then the lost work, when any was lost.
func Figures(s Setting, results []Result) []Figure {
	if len(results) == 0 {
		return nil
	}
	st := stylesOf(results)
	var out []Figure
	for _, w := range firstSeen(results, func(r Result) string { return r.Workload }) {
		if arg := sweptArg(results, w); arg != "" {
			if f, ok := runsFigure(s, results, st, w, arg); ok {
				out = append(out, f)
			}
		}
	}
	out = append(out, billedFigure(s, results, st))
	if f, ok := lostFigure(s, results, st); ok {
		out = append(out, f)
	}
	return out
}

// finished says a run finished; a failed run's time and hops measure
// the failure, not the policy, and are left out of the points.
func finished(r Result) bool { return r.Success && r.Error == "" }

// runsFigure shows one workload's time and hops, one point per run,
// against its swept argument; there is no figure when no run finished.
func runsFigure(s Setting, results []Result, st styles, workload, arg string) (Figure, bool) {
	var runs []Result
	failed := 0
	for _, r := range results {
		if r.Workload != workload {
			continue
		}
		if _, isNum := number(r.Args[arg]); !isNum {
			continue
		}
		if !finished(r) {
			failed++
			continue
		}
		runs = append(runs, r)
	}
	xs := distinctX(runs, arg)
	if len(xs) == 0 {
		return Figure{}, false
	}
	line := len(xs) >= minLinePoints
	pols := presentIn(st, runs)
	unit := "step activations"
	if slices.ContainsFunc(runs, func(r Result) bool { return r.Workflow }) {
		unit = "component activations"
	}
	kinds := []struct {
		title, ylabel string
		integer       bool
		y             func(Result) float64
	}{
		{"time per run", "time (s)", false, func(r Result) float64 { return float64(r.ElapsedMS) / 1000 }},
		{"hops per run: " + unit, "hops", true, func(r Result) float64 { return float64(r.Metrics.Hops) }},
	}
	f := Figure{
		File:  s.Name + "-" + workload + "-runs.svg",
		Title: workload + ": time and hops per run against " + arg,
		Cols:  1,
	}
	for _, k := range kinds {
		p := Panel{Kind: PanelRuns, Title: k.title, XLabel: arg, YLabel: k.ylabel, IntegerY: k.integer}
		for j, pol := range pols {
			p.Series = append(p.Series, runSeries(runs, arg, xs, pol, st.by[pol], j, len(pols), line, k.y))
		}
		// Ticks at the values measured, and at no other: on a
		// categorical axis at their indexes, on a continuous one at
		// their own positions (as long as they are few enough to read).
		for i, x := range xs {
			at := float64(i)
			if line {
				at = x
			}
			if !line || len(xs) <= maxValueTicks {
				p.XTicks = append(p.XTicks, Tick{At: at, Label: formatNumber(x)})
			}
		}
		p.XMin, p.XMax = -0.5, float64(len(xs))-0.5
		if line {
			pad := (xs[len(xs)-1] - xs[0]) * 0.05
			p.XMin, p.XMax = xs[0]-pad, xs[len(xs)-1]+pad
		}
		p.YMin, p.YMax = yRange(p.Series, k.integer)
		f.Panels = append(f.Panels, p)
	}
	f.Legend = runsLegend(pols, st, line)
	f.Setting = runsSetting(s, runs, workload, arg, failed)
	f.Reading = runsReading(runs, pols, arg, xs)
	return f, true
}

// runSeries places one policy's runs. On a categorical axis each value
// is a band of width 0.8 around its index, shared out among the
// policies so that no two policies' points fall on each other, and a
// policy's runs are spread across its slot in the order of their
// repetitions, so that equal runs stay countable.
func runSeries(runs []Result, arg string, xs []float64, pol string, sty Style, j, k int, line bool, y func(Result) float64) Series {
	ser := Series{Policy: pol, Style: sty, Line: line}
	slot := 0.8 / float64(k)
	for i, x := range xs {
		var at []Result
		for _, r := range runs {
			if v, _ := number(r.Args[arg]); r.Policy == pol && v == x {
				at = append(at, r)
			}
		}
		if len(at) == 0 {
			continue
		}
		sort.SliceStable(at, func(a, b int) bool { return at[a].Repetition < at[b].Repetition })
		centre, half, step := x, 0.0, 0.0
		if !line {
			centre = float64(i) - 0.4 + slot*(float64(j)+0.5)
			half = slot * 0.4
			if len(at) > 1 {
				step = slot * 0.6 / float64(len(at)-1)
			}
		}
		ys := make([]float64, len(at))
		for n, r := range at {
			ys[n] = y(r)
			ser.Runs = append(ser.Runs, Point{X: centre + (float64(n)-float64(len(at)-1)/2)*step, Y: ys[n]})
		}
		ser.Medians = append(ser.Medians, Median{X: centre, Y: median(ys), HalfWidth: half})
	}
	return ser
}

// yRange spans every run with a margin; counts start at zero or one
// below their least, so that the smallest count is not on the frame.
func yRange(series []Series, integer bool) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, p := range s.Runs {
			lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
		}
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	if integer {
		return math.Max(0, lo-0.5), hi + 0.5
	}
	pad := (hi - lo) * 0.1
	if pad == 0 {
		pad = math.Max(math.Abs(hi)*0.1, 0.5)
	}
	return math.Max(0, lo-pad), hi + pad
}

func runsLegend(pols []string, st styles, line bool) Legend {
	l := Legend{Place: LegendRight}
	for _, p := range pols {
		l.Entries = append(l.Entries, LegendEntry{Kind: EntryPolicy, Label: p, Style: st.by[p]})
	}
	med := LegendEntry{Kind: EntryMedian, Label: "median of the runs", Style: neutral()}
	if line {
		med = LegendEntry{Kind: EntryMedianJoined, Label: "median, joined", Style: neutral()}
	}
	l.Entries = append(l.Entries, LegendEntry{Kind: EntryRun, Label: "one run", Style: neutral()}, med)
	return l
}

// quantity is one per-policy figure a bars panel can show.
type quantity struct {
	title string // the panel's
	name  string // the reading's
	ms    bool   // milliseconds, else seconds
	value func(Summary) int64
}

// billedFigure shows the billed time per policy and, each in its own
// panel with its own scale, the parts too small to see beside it:
// conductor runs, time billed twice, time billed while waiting. A part
// that is zero for every policy, or that repeats the panel before it,
// gets no panel; the reading says so instead.
func billedFigure(s Setting, results []Result, st styles) Figure {
	sums := Summarize(results)
	qs := []quantity{
		{"billed, all activations (s)", "billed", false, func(s Summary) int64 { return s.BilledMS }},
		{"conductor runs (ms)", "conductor runs", true, func(s Summary) int64 { return s.ConductorMS }},
		{"billed twice (ms)", "billed twice", true, func(s Summary) int64 { return s.DoubleBilledMS }},
		{"billed while waiting (ms)", "billed while waiting", true, func(s Summary) int64 { return s.WaitingMS }},
	}
	f := Figure{File: s.Name + "-billed.svg", Title: "billed time per policy, summed over its runs"}
	for i, q := range qs {
		if i > 0 && (allZero(sums, q.value) || repeats(sums, qs, i)) {
			continue
		}
		f.Panels = append(f.Panels, barPanel(q, sums, st))
	}
	f.Cols = colsFor(len(f.Panels))
	f.Setting = totalsSetting(s, results)
	f.Reading = billedReading(sums, qs)
	return f
}

// repeats says the i-th small part equals the one before it for every
// policy (a fan-out's time billed twice is all of it waiting): a second
// panel would show the same bars again. The billed total is no small
// part and is never repeated.
func repeats(sums []Summary, qs []quantity, i int) bool {
	return i >= 2 && same(sums, qs[i].value, qs[i-1].value)
}

// lostFigure shows the work each policy lost and did again; there is no
// figure when nothing was lost (a composition of plain actions).
func lostFigure(s Setting, results []Result, st styles) (Figure, bool) {
	sums := Summarize(results)
	q := quantity{"work lost and done again (ms)", "Work lost and done again", true, func(s Summary) int64 { return s.WorkLostMS }}
	if allZero(sums, q.value) {
		return Figure{}, false
	}
	return Figure{
		File: s.Name + "-lost.svg", Title: "work lost per policy, summed over its runs", Cols: 1,
		Panels: []Panel{barPanel(q, sums, st)}, Setting: totalsSetting(s, results),
		Reading: lostReading(sums, q),
	}, true
}

// colsFor lays panels out in one row up to three, then two a row.
func colsFor(n int) int {
	if n <= 3 {
		return max(n, 1)
	}
	return 2
}

// barPanel puts the first policy at the top, as a table would.
func barPanel(q quantity, sums []Summary, st styles) Panel {
	p := Panel{Kind: PanelBars, Title: q.title, XMin: 0}
	n := len(sums)
	top := 0.0
	for i, s := range sums {
		at := float64(n - 1 - i)
		v := float64(q.value(s))
		label := formatMS(q.value(s))
		if !q.ms {
			v /= 1000
			label = formatSeconds(v)
		}
		p.Bars = append(p.Bars, Bar{Policy: s.Policy, Style: st.by[s.Policy], At: at, Value: v, Label: label})
		p.YTicks = append(p.YTicks, Tick{At: at, Label: s.Policy})
		top = math.Max(top, v)
	}
	if top == 0 {
		top = 1
	}
	// The longest bar spans the panel less its printed value, which
	// the renderer makes room for.
	p.XMax = top
	p.YMin, p.YMax = -0.6, float64(n)-0.4
	return p
}

func allZero(sums []Summary, v func(Summary) int64) bool {
	return !slices.ContainsFunc(sums, func(s Summary) bool { return v(s) != 0 })
}

func same(sums []Summary, a, b func(Summary) int64) bool {
	return !slices.ContainsFunc(sums, func(s Summary) bool { return a(s) != b(s) })
}

// presentIn lists the policies of runs in the experiment's order.
func presentIn(st styles, runs []Result) []string {
	var out []string
	for _, p := range st.order {
		if slices.ContainsFunc(runs, func(r Result) bool { return r.Policy == p }) {
			out = append(out, p)
		}
	}
	return out
}

func distinctX(runs []Result, arg string) []float64 {
	var xs []float64
	for _, r := range runs {
		if x, _ := number(r.Args[arg]); !slices.Contains(xs, x) {
			xs = append(xs, x)
		}
	}
	sort.Float64s(xs)
	return xs
}

func median(ys []float64) float64 {
	s := slices.Clone(ys)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// sweptArg is the first argument (by name) that takes more than one
// numeric value in the workload's runs.
func sweptArg(results []Result, workload string) string {
	vals := map[string]map[float64]bool{}
	for _, r := range results {
		if r.Workload != workload {
			continue
		}
		for k, v := range r.Args {
			if x, ok := number(v); ok {
				if vals[k] == nil {
					vals[k] = map[float64]bool{}
				}
				vals[k][x] = true
			}
		}
	}
	var names []string
	for k, v := range vals {
		if len(v) > 1 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// firstSeen lists the different values of key over results in the order
// they first appear (the experiment file's order).
func firstSeen(results []Result, key func(Result) string) []string {
	var out []string
	for _, r := range results {
		if k := key(r); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
