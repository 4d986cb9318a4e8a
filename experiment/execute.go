package experiment

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Runs expands an experiment into its runs, in order: per workload, per
// argument case, each policy then each baseline, per repetition.
func (f *File) Runs() []Run {
	refs := map[string]PolicyRef{}
	for _, p := range f.Policies {
		refs[p.Name] = p
	}
	var out []Run
	for _, w := range f.Workloads {
		if len(w.Policies) == 0 {
			continue
		}
		for _, c := range w.Cases() {
			for rep := 1; rep <= f.Repetitions; rep++ {
				for _, name := range w.Policies {
					out = append(out, Run{Workload: w.Name, Policy: name, Args: c, Repetition: rep, Ref: refs[name], Platform: f.Platform})
				}
				for _, b := range f.Baselines {
					out = append(out, Run{Workload: w.Name, Policy: b, Baseline: b, Args: c, Repetition: rep, Ref: refs[w.Policies[0]], Platform: f.Platform})
				}
			}
		}
	}
	return out
}

// Execute runs every run of f with d, reporting progress to progress and
// calling save with the results so far after each run (so that an
// interrupted experiment keeps what it measured). A run that fails is
// recorded with its error and the experiment goes on.
func Execute(ctx context.Context, f *File, d Driver, progress io.Writer, save func([]Result) error) ([]Result, error) {
	runs := f.Runs()
	var results []Result
	start := time.Now()
	for i, r := range runs {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		res, err := d.Run(ctx, r)
		if err != nil {
			res.Run = r
			res.Error = err.Error()
		}
		results = append(results, res)
		if save != nil {
			if err := save(results); err != nil {
				return results, err
			}
		}
		done := i + 1
		eta := time.Duration(float64(time.Since(start)) / float64(done) * float64(len(runs)-done)).Round(time.Second)
		status := res.Status
		if res.Error != "" {
			status = "error: " + res.Error
		}
		fmt.Fprintf(progress, "[%d/%d] %s %s %v rep %d: %s, %d ms, %d hops (elapsed %s, ETA %s)\n",
			done, len(runs), r.Workload, r.Policy, map[string]any(r.Args), r.Repetition, status, res.ElapsedMS, res.Metrics.Hops,
			time.Since(start).Round(time.Second), eta)
	}
	return results, nil
}
