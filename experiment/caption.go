package experiment

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// A figure's setting line says what a reader needs to know to read it
// alone (experiment, workload, action limit, engine, runs); its reading
// says in one line what the data show. Both are computed from the
// results, so they stay true when the figures are drawn again.

// runsSetting is the setting of one workload's runs figure.
func runsSetting(s Setting, runs []Result, workload, arg string, failed int) string {
	parts := []string{s.Name + " experiment", "workload " + workload + fixedArgs(runs, arg), limitText(s), engineText(runs)}
	counts := map[string]int{}
	for _, r := range runs {
		x, _ := number(r.Args[arg])
		counts[r.Policy+"\x00"+formatNumber(x)]++
	}
	lo, hi := math.MaxInt, 0
	for _, n := range counts {
		lo, hi = min(lo, n), max(hi, n)
	}
	per := plural(lo, "run")
	if lo != hi {
		per = fmt.Sprintf("%d to %d runs", lo, hi)
	}
	n := fmt.Sprintf("%s per policy and %s, %d in all", per, arg, len(runs))
	if failed > 0 {
		n += fmt.Sprintf(" (%s left out)", plural(failed, "failed run"))
	}
	return strings.Join(append(parts, n), "; ")
}

// totalsSetting is the setting of a figure over every run.
func totalsSetting(s Setting, results []Result) string {
	wls := firstSeen(results, func(r Result) string { return r.Workload })
	w := "workload "
	if len(wls) > 1 {
		w = "workloads "
	}
	sums := Summarize(results)
	lo, hi, failed := math.MaxInt, 0, 0
	for _, x := range sums {
		lo, hi, failed = min(lo, x.Runs), max(hi, x.Runs), failed+x.Failed
	}
	per := plural(lo, "run")
	if lo != hi {
		per = fmt.Sprintf("%d to %d runs", lo, hi)
	}
	n := fmt.Sprintf("%s per policy, %d in all", per, len(results))
	if failed > 0 {
		n += fmt.Sprintf(", %d of them failed", failed)
	}
	return strings.Join([]string{s.Name + " experiment", w + strings.Join(wls, ", "), limitText(s), engineText(results), n}, "; ")
}

func limitText(s Setting) string {
	t := strconv.FormatFloat(s.Timeout.Seconds(), 'f', -1, 64) + " s action limit"
	if s.Memory > 0 {
		t += fmt.Sprintf(", %d MB", s.Memory)
	}
	return t
}

// fixedArgs lists, in parentheses, the arguments other than arg and
// their values; one that varies among the runs is said to be pooled, as
// its runs share the points of arg.
func fixedArgs(runs []Result, arg string) string {
	vals := map[string][]string{}
	for _, r := range runs {
		for k, v := range r.Args {
			if k == arg {
				continue
			}
			if s := fmt.Sprint(v); !slices.Contains(vals[k], s) {
				vals[k] = append(vals[k], s)
			}
		}
	}
	var names []string
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []string
	for _, k := range names {
		if len(vals[k]) == 1 {
			out = append(out, k+" "+vals[k][0])
		} else {
			out = append(out, k+" pooled")
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, ", ") + ")"
}

// engineText names the engine most policies ran under and the policies
// that ran under another.
func engineText(runs []Result) string {
	var pols []string
	engine := map[string]string{}
	for _, r := range runs {
		if !slices.Contains(pols, r.Policy) {
			pols = append(pols, r.Policy)
		}
		if r.Engine != "" {
			engine[r.Policy] = r.Engine
		}
	}
	var engines []string
	count := map[string]int{}
	for _, p := range pols {
		e := engine[p]
		if count[e] == 0 {
			engines = append(engines, e)
		}
		count[e]++
	}
	if len(engines) == 1 && engines[0] == "" {
		return "no job engine"
	}
	major := engines[0]
	for _, e := range engines {
		if count[e] > count[major] {
			major = e
		}
	}
	t := "engine " + major
	if major == "" {
		t = "no engine reported"
	}
	var others []string
	for _, p := range pols {
		if e := engine[p]; e != major {
			if e == "" {
				e = "no engine reported"
			}
			others = append(others, p+": "+e)
		}
	}
	if len(others) > 0 {
		t += " (" + strings.Join(others, ", ") + ")"
	}
	return t
}

// runsReading reads time and hops at the largest value of the swept
// argument, where the policies differ most, and the spread of the runs.
func runsReading(runs []Result, pols []string, arg string, xs []float64) string {
	last := xs[len(xs)-1]
	at := fmt.Sprintf("%s = %s", arg, formatNumber(last))
	type med struct {
		policy     string
		time, hops float64
	}
	var meds []med
	spread := 0.0
	for _, p := range pols {
		for _, x := range xs {
			var ts, hs []float64
			for _, r := range runs {
				if v, _ := number(r.Args[arg]); r.Policy == p && v == x {
					ts = append(ts, float64(r.ElapsedMS)/1000)
					hs = append(hs, float64(r.Metrics.Hops))
				}
			}
			if len(ts) > 1 {
				spread = math.Max(spread, slices.Max(ts)-slices.Min(ts))
			}
			if x == last && len(ts) > 0 {
				meds = append(meds, med{policy: p, time: median(ts), hops: median(hs)})
			}
		}
	}
	if len(meds) == 0 {
		return ""
	}
	lo, hi := meds[0], meds[0]
	for _, m := range meds {
		if m.time < lo.time {
			lo = m
		}
		if m.time > hi.time {
			hi = m
		}
	}
	var b strings.Builder
	if lo.policy == hi.policy {
		fmt.Fprintf(&b, "At %s the median time is %s (%s)", at, formatSeconds(lo.time), lo.policy)
	} else {
		fmt.Fprintf(&b, "At %s the median time runs from %s (%s) to %s (%s, %s more)", at,
			formatSeconds(lo.time), lo.policy, formatSeconds(hi.time), hi.policy, percent(lo.time, hi.time))
	}
	if spread > 0 {
		fmt.Fprintf(&b, "; the runs of one policy at one value of %s differ by at most %s", arg, formatSeconds(spread))
	}
	b.WriteString(". Hops there: ")
	var hops []float64
	for _, m := range meds {
		if !slices.Contains(hops, m.hops) {
			hops = append(hops, m.hops)
		}
	}
	sort.Float64s(hops)
	if len(hops) == 1 && len(meds) > 1 {
		return b.String() + formatNumber(hops[0]) + " for every policy."
	}
	var groups []string
	for _, h := range hops {
		var ps []string
		for _, m := range meds {
			if m.hops == h {
				ps = append(ps, m.policy)
			}
		}
		groups = append(groups, fmt.Sprintf("%s (%s)", formatNumber(h), strings.Join(ps, ", ")))
	}
	b.WriteString(strings.Join(groups, ", ") + ".")
	return b.String()
}

// billedReading names the least and most billed policies and reads each
// small part, drawn or not.
func billedReading(sums []Summary, qs []quantity) string {
	lo, hi := sums[0], sums[0]
	for _, s := range sums {
		if s.BilledMS < lo.BilledMS {
			lo = s
		}
		if s.BilledMS > hi.BilledMS {
			hi = s
		}
	}
	var parts []string
	if lo.Policy == hi.Policy {
		parts = append(parts, fmt.Sprintf("Billed over its runs: %s, %s", lo.Policy, formatSeconds(float64(lo.BilledMS)/1000)))
	} else {
		parts = append(parts, fmt.Sprintf("Billed over its runs: least %s, %s; most %s, %s (%s more)",
			lo.Policy, formatSeconds(float64(lo.BilledMS)/1000), hi.Policy, formatSeconds(float64(hi.BilledMS)/1000),
			percent(float64(lo.BilledMS), float64(hi.BilledMS))))
	}
	for i := 1; i < len(qs); i++ {
		q := qs[i]
		switch {
		case allZero(sums, q.value):
			parts = append(parts, q.name+": none")
		case repeats(sums, qs, i):
			parts = append(parts, q.name+": the same as "+qs[i-1].name)
		default:
			parts = append(parts, describe(q.name, sums, q.value))
		}
	}
	return strings.Join(parts, "; ") + "."
}

func lostReading(sums []Summary, q quantity) string {
	return describe(q.name, sums, q.value) + "."
}

// describe reads one small per-policy figure: which policies have it and
// how much, largest first, or its range when many have it.
func describe(label string, sums []Summary, v func(Summary) int64) string {
	var some []Summary
	for _, s := range sums {
		if v(s) != 0 {
			some = append(some, s)
		}
	}
	sort.SliceStable(some, func(i, j int) bool { return v(some[i]) > v(some[j]) })
	var t string
	switch {
	case len(some) == 0:
		return label + ": none"
	case len(some) == 1:
		return fmt.Sprintf("%s: only %s, %s", label, some[0].Policy, formatMS(v(some[0])))
	case len(some) <= 3:
		var xs []string
		for _, s := range some {
			xs = append(xs, s.Policy+" "+formatMS(v(s)))
		}
		t = label + ": " + strings.Join(xs, ", ")
	default:
		lo, hi := some[len(some)-1], some[0]
		t = fmt.Sprintf("%s: %s (%s) to %s (%s)", label, formatMS(v(lo)), lo.Policy, formatMS(v(hi)), hi.Policy)
	}
	var zero []string
	for _, s := range sums {
		if v(s) == 0 {
			zero = append(zero, s.Policy)
		}
	}
	if len(zero) > 0 {
		t += ", none for " + strings.Join(zero, ", ")
	}
	return t
}

func percent(lo, hi float64) string {
	if lo <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", (hi-lo)/lo*100)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func formatNumber(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// formatSeconds keeps about three significant digits.
func formatSeconds(v float64) string {
	if math.Abs(v) >= 10 {
		return fmt.Sprintf("%.1f s", v)
	}
	return fmt.Sprintf("%.2f s", v)
}

func formatMS(ms int64) string { return fmt.Sprintf("%d ms", ms) }
