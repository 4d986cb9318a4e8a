package experiment

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WritePlots writes SVG plots of results into dir: per workload, time and
// hops against the swept argument per policy; over all runs, the billed
// time breakdown and the lost work per policy. It returns the files
// written, each named after experiment name. The output depends only on
// the results.
func WritePlots(dir, name string, results []Result) ([]string, error) {
	var files []string
	save := func(p *plot.Plot, file string) error {
		file = name + "-" + file
		c := vgsvg.New(6*vg.Inch, 4*vg.Inch)
		p.Draw(draw.New(c))
		var b bytes.Buffer
		if _, err := c.WriteTo(&b); err != nil {
			return fmt.Errorf("plot %s: %w", file, err)
		}
		path := filepath.Join(dir, file)
		files = append(files, path)
		return writeAtomic(path, b.Bytes())
	}
	policies := sortedPolicies(results)
	for _, w := range workloads(results) {
		arg := sweptArg(results, w)
		if arg == "" {
			continue
		}
		for _, kind := range []struct{ file, y string }{{"time", "time (s)"}, {"hops", "step activations"}} {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("%s: %s against %s", w, kind.y, arg)
			p.X.Label.Text = arg
			p.Y.Label.Text = kind.y
			var lines []any
			for _, pol := range policies {
				pts := meanBy(results, w, pol, arg, func(r Result) float64 {
					if kind.file == "time" {
						return float64(r.ElapsedMS) / 1000
					}
					return float64(r.Metrics.Hops)
				})
				if len(pts) > 0 {
					lines = append(lines, pol, pts)
				}
			}
			if err := plotutil.AddLinePoints(p, lines...); err != nil {
				return files, fmt.Errorf("plot: %w", err)
			}
			if err := save(p, fmt.Sprintf("%s-%s.svg", w, kind.file)); err != nil {
				return files, err
			}
		}
	}
	sums := Summarize(results)
	sort.Slice(sums, func(i, j int) bool { return sums[i].Policy < sums[j].Policy })
	names := make([]string, len(sums))
	var cond, step, dbl, lost plotter.Values
	for i, s := range sums {
		names[i] = s.Policy
		cond = append(cond, float64(s.ConductorMS)/1000)
		step = append(step, float64(s.BilledMS-s.ConductorMS)/1000)
		dbl = append(dbl, float64(s.DoubleBilledMS)/1000)
		lost = append(lost, float64(s.WorkLostMS)/1000)
	}
	if len(sums) == 0 {
		return files, nil
	}
	p := plot.New()
	p.Title.Text = "billed time per policy (all runs)"
	p.Y.Label.Text = "seconds"
	w := vg.Points(14)
	var prev *plotter.BarChart
	for i, part := range []struct {
		name string
		v    plotter.Values
	}{{"steps", step}, {"conductor", cond}, {"double-billed", dbl}} {
		b, err := plotter.NewBarChart(part.v, w)
		if err != nil {
			return files, fmt.Errorf("plot: %w", err)
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = 0
		if part.name == "double-billed" {
			b.Offset = w
		} else if prev != nil {
			b.StackOn(prev)
		}
		prev = b
		p.Add(b)
		p.Legend.Add(part.name, b)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	if err := save(p, "billed.svg"); err != nil {
		return files, err
	}
	if !slices.ContainsFunc(lost, func(v float64) bool { return v > 0 }) {
		// Nothing was lost (a composition of plain actions): no figure
		// of zeros.
		return files, nil
	}
	p = plot.New()
	p.Title.Text = "work lost in failed or killed hops (all runs)"
	p.Y.Label.Text = "seconds"
	b, err := plotter.NewBarChart(lost, w)
	if err != nil {
		return files, fmt.Errorf("plot: %w", err)
	}
	b.Color = plotutil.Color(3)
	p.Add(b)
	p.NominalX(names...)
	return files, save(p, "lost.svg")
}

// workloads lists the workloads in results, sorted.
func workloads(results []Result) []string {
	return distinct(results, func(r Result) string { return r.Workload })
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

// meanBy averages f over the successful runs of one workload and policy
// for each value of arg, sorted by the value.
func meanBy(results []Result, workload, policy, arg string, f func(Result) float64) plotter.XYs {
	sum := map[float64]float64{}
	n := map[float64]int{}
	for _, r := range results {
		if r.Workload != workload || r.Policy != policy || r.Error != "" {
			continue
		}
		x, ok := number(r.Args[arg])
		if !ok {
			continue
		}
		sum[x] += f(r)
		n[x]++
	}
	var out plotter.XYs
	for x, s := range sum {
		out = append(out, plotter.XY{X: x, Y: s / float64(n[x])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].X < out[j].X })
	return out
}
