package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/experiment"
	"github.com/wskx/wskx/local"
)

func newExperimentCommand() *command {
	return &command{
		name:    "experiment",
		usage:   "FILE [--out DIR] [--runtime BINARY] [--docs docs/trilemma.md]",
		summary: "run a Serverless Trilemma experiment on the built-in platform and report it",
		help: `Experiment runs every case of an experiment file (workloads with argument
sweeps, under each listed policy and baseline, repeated) on the built-in
OpenWhisk-compatible platform, started in this process with its records
and file checkpoint storage under --out.

It measures, per run, the time, the hops, the billed time (derived
activations only: a composition's primary record is not billed), the time
during which two billed activations of the job overlapped (double billing),
duplicate final results, lost work and checkpoint costs. Progress goes to
stderr; results.csv and results.json are rewritten in --out after every
run; at the end a table per policy and the trilemma verdicts, each with the
figure it rests on, are printed, and SVG plots (time and hops against the
swept argument, billed time and lost work per policy) are written to --out.

With --docs the generated regions of that document
(<!-- BEGIN GENERATED: name --> ... <!-- END GENERATED: name -->) are
rewritten from the results; the prose around them is kept as it is.

Example:
  wskx experiment examples/experiments/default.yaml --out /tmp/trilemma --docs docs/trilemma.md`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			out := fs.String("out", "experiment-results", "write results, records and checkpoints into `DIR`")
			runtime := fs.String("runtime", "", "wskx `BINARY` the built-in platform runs actions with (default: this one)")
			docs := fs.String("docs", "", "rewrite the generated regions of `FILE` from the results")
			verbose := fs.BoolP("verbose", "v", false, "log the built-in platform's work to stderr")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 1 {
					return usagef("expected one experiment file")
				}
				f, err := experiment.LoadFile(args[0])
				if err != nil {
					return err
				}
				dir, err := filepath.Abs(*out)
				if err != nil {
					return fmt.Errorf("experiment: %w", err)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return fmt.Errorf("experiment: %w", err)
				}
				logger := slog.New(slog.DiscardHandler)
				if *verbose {
					logger = slog.New(slog.NewTextHandler(env.stderr, nil))
				}
				lp, err := local.Start(ctx, local.Options{
					DataDir: filepath.Join(dir, "platform"), Runtime: *runtime, Logger: logger,
					NodePath: env.getenv("WSKX_NODE_PATH"),
					Env:      passEnv(env, "WSKX_DMTCP_HOME"),
				})
				if err != nil {
					return err
				}
				defer lp.Close()
				api, err := lp.Client()
				if err != nil {
					return err
				}
				d := &experiment.OpenWhisk{API: api, Namespace: api.Namespace(), Dir: dir}
				results, err := experiment.Execute(ctx, f, d, env.stderr, func(r []experiment.Result) error {
					return experiment.WriteResults(dir, r)
				})
				if err != nil {
					return err
				}
				if err := experiment.WriteSummary(env.stdout, results); err != nil {
					return err
				}
				plots, err := experiment.WritePlots(dir, results)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "\nresults and %d plots in %s\n", len(plots), dir)
				if *docs != "" {
					doc, err := os.ReadFile(*docs)
					if err != nil {
						return fmt.Errorf("experiment: %w", err)
					}
					// The document links copies of the plots beside it, so
					// that it renders without the results folder.
					docDir := filepath.Dir(*docs)
					if err := os.MkdirAll(filepath.Join(docDir, "img"), 0o755); err != nil {
						return fmt.Errorf("experiment: %w", err)
					}
					imgs, err := experiment.WritePlots(filepath.Join(docDir, "img"), results)
					if err != nil {
						return err
					}
					regions := experiment.Regions(results)
					if regions["plots"], err = experiment.PlotLinks(docDir, imgs); err != nil {
						return err
					}
					next, err := experiment.Regenerate(doc, regions)
					if err != nil {
						return err
					}
					if err := writeFileAtomic(*docs, next); err != nil {
						return fmt.Errorf("experiment: %w", err)
					}
				}
				return nil
			}
		},
	}
}
