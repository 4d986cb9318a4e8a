package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Markers around a generated region of a document; the text between them
// is replaced, everything else is left byte for byte.
const (
	beginMarker = "<!-- BEGIN GENERATED: %s -->"
	endMarker   = "<!-- END GENERATED: %s -->"
)

// Regions renders the generated regions of docs/trilemma.md from the
// results of experiment name: NAME-summary (the per-policy table),
// NAME-workloads (duplicates and double billing per workload) and
// NAME-verdicts. The name keeps each experiment's regions apart in one
// document.
func Regions(name string, results []Result) map[string]string {
	sums := Summarize(results)
	var t strings.Builder
	t.WriteString("| policy | runs | failed | engine | mean time (s) | mean hops | billed (s) | conductor (ms) | double-billed (ms) | waiting (ms) | duplicates | lost work (ms) |\n")
	t.WriteString("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range sums {
		engine := s.Engine
		if engine == "" {
			engine = "-" // a composition of plain actions: no job engine
		}
		fmt.Fprintf(&t, "| %s | %d | %d | %s | %.1f | %.1f | %.1f | %d | %d | %d | %d | %d |\n", s.Policy, s.Runs, s.Failed, engine,
			s.MeanElapsedMS/1000, s.MeanHops, float64(s.BilledMS)/1000, s.ConductorMS,
			s.DoubleBilledMS, s.WaitingMS, s.Duplicates, s.WorkLostMS)
	}
	var v strings.Builder
	v.WriteString("| policy | double billing | black box | substitution |\n| --- | --- | --- | --- |\n")
	for _, s := range sums {
		vs := Verdicts(s)
		fmt.Fprintf(&v, "| %s |", s.Policy)
		for _, x := range vs {
			fmt.Fprintf(&v, " %s: %s |", mark(x), x.Evidence)
		}
		v.WriteString("\n")
	}
	return map[string]string{name + "-summary": t.String(), name + "-workloads": workloadTable(results),
		name + "-verdicts": v.String(), name + "-cases": caseTable(results)}
}

// caseTable shows each case (workload and arguments) under each policy:
// the means over its repetitions of time, billed time and waiting, so
// that how a cost grows with the swept argument can be read.
func caseTable(results []Result) string {
	type cell struct {
		runs                     int
		elapsed, billed, waiting int64
	}
	type key struct{ workload, args, policy string }
	cells := map[key]*cell{}
	var order []key
	for _, r := range results {
		a, _ := json.Marshal(r.Args)
		k := key{r.Workload, string(a), r.Policy}
		c, ok := cells[k]
		if !ok {
			c = &cell{}
			cells[k] = c
			order = append(order, k)
		}
		c.runs++
		c.elapsed += r.ElapsedMS
		c.billed += r.Metrics.BilledMS
		c.waiting += r.Metrics.WaitingMS
	}
	var b strings.Builder
	b.WriteString("| workload | arguments | policy | runs | mean time (s) | mean billed (s) | mean waiting (s) |\n")
	b.WriteString("| --- | --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, k := range order {
		c := cells[k]
		n := float64(c.runs) * 1000
		fmt.Fprintf(&b, "| %s | `%s` | %s | %d | %.2f | %.2f | %.2f |\n", k.workload, k.args, k.policy, c.runs,
			float64(c.elapsed)/n, float64(c.billed)/n, float64(c.waiting)/n)
	}
	return b.String()
}

// workloadTable shows, per workload and policy, the duplicate results and
// the double-billed time, so that a case built to hit a race shows it
// apart from the cases that do not.
func workloadTable(results []Result) string {
	type cell struct {
		runs, dups int
		db         int64
	}
	wls := distinct(results, func(r Result) string { return r.Workload })
	cells := map[[2]string]*cell{}
	var policies []string
	for _, r := range results {
		k := [2]string{r.Policy, r.Workload}
		c, ok := cells[k]
		if !ok {
			c = &cell{}
			cells[k] = c
		}
		if !slices.Contains(policies, r.Policy) {
			policies = append(policies, r.Policy)
		}
		c.runs++
		c.dups += r.Metrics.Duplicates
		c.db += r.Metrics.DoubleBilledMS
	}
	var b strings.Builder
	b.WriteString("| policy |")
	for _, w := range wls {
		fmt.Fprintf(&b, " %s: duplicates / runs | %s: double-billed (ms) |", w, w)
	}
	b.WriteString("\n| --- |" + strings.Repeat(" ---: | ---: |", len(wls)) + "\n")
	for _, p := range policies {
		fmt.Fprintf(&b, "| %s |", p)
		for _, w := range wls {
			if c := cells[[2]string{p, w}]; c != nil {
				fmt.Fprintf(&b, " %d / %d | %d |", c.dups, c.runs, c.db)
			} else {
				b.WriteString(" | |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Regenerate replaces the body of every generated region of doc named in
// regions; regions the document lacks are ignored and the rest of the
// document is kept as it is. A begin marker without its end is an error.
func Regenerate(doc []byte, regions map[string]string) ([]byte, error) {
	out := doc
	for name, body := range regions {
		begin := []byte(fmt.Sprintf(beginMarker, name))
		end := []byte(fmt.Sprintf(endMarker, name))
		i := bytes.Index(out, begin)
		if i < 0 {
			continue
		}
		bodyStart := i + len(begin)
		j := bytes.Index(out[bodyStart:], end)
		if j < 0 {
			return nil, fmt.Errorf("regenerate: %s has no end marker", name)
		}
		var b bytes.Buffer
		b.Write(out[:bodyStart])
		b.WriteString("\n")
		b.WriteString(body)
		b.Write(out[bodyStart+j:])
		out = b.Bytes()
	}
	return out, nil
}

// PlotLinks renders the "plots" region: per figure, its image, linked
// relative to docDir (the folder of the document) from imgDir, and under
// it one line that a reader of the page reads the figure by: its title
// and setting, then what the data show. Both come from the results, so
// the line stays true when the figures are drawn again.
func PlotLinks(docDir, imgDir string, figs []Figure) (string, error) {
	var b strings.Builder
	for _, f := range figs {
		rel, err := filepath.Rel(docDir, filepath.Join(imgDir, f.File))
		if err != nil {
			return "", fmt.Errorf("plot links: %w", err)
		}
		rel = filepath.ToSlash(rel)
		name := strings.TrimSuffix(f.File, filepath.Ext(f.File))
		fmt.Fprintf(&b, "![%s](%s)\n\n*%s. %s.* %s\n\n", name, rel, f.Title, f.Setting, f.Reading)
	}
	return b.String(), nil
}
