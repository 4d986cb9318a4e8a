package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/experiment"
	"github.com/wskx/wskx/local"
)

func newExperimentCommand() *command {
	return &command{
		name:    "experiment",
		usage:   "FILE [--out DIR] [--runtime BINARY] [--docs docs/trilemma.md] [--redis URL] [--from RESULTS]",
		summary: "run a Serverless Trilemma experiment on the built-in platform and report it",
		help: `Experiment runs every case of an experiment file (workloads with argument
sweeps, under each listed policy and baseline, repeated) on the built-in
OpenWhisk-compatible platform, started in this process with its records
and file checkpoint storage under --out.

It measures, per run, the time, the hops, the billed time (derived
activations only: a composition's primary record is not billed), the time
during which two billed activations of the job overlapped or a conductor
was billed while components it started ran (double billing; a fan-out's
branches overlap by design and do not count), duplicate final results,
lost work and checkpoint costs. Progress goes to
stderr; results.csv and results.json are rewritten in --out after every
run; at the end a table per policy and the trilemma verdicts, each with the
figure it rests on, are printed, and SVG figures are written to --out: per
workload, time and hops of every run against the swept argument with the
median marked; the billed time per policy, with conductor runs, time billed
twice and time billed while waiting in panels of their own; the work lost
per policy. Each figure's title and setting line say the experiment, the
workload, the action limit, the engines and the number of runs.

A policy of an experiment is a single job's policy file (file:) or a
workflow (workflow:, a wskx workflow file or an openwhisk-composer
composition as its compose command writes it) with an optional join
(wait or handoff). Baselines: single (the job in one plain activation),
self-invoke (the original self-invoking design) and composer (the
workflow's composition on openwhisk-composer's own conductor, deployed with
its deploy command; its parallel and map join through the Redis at
--redis). The composer baseline needs node and the packages that
scripts/npmtools.sh installs (WSKX_COMPOSER_HOME, WSKX_NODE_PATH).

With --docs the generated regions of that document named after the
experiment (<!-- BEGIN GENERATED: NAME-summary --> ... <!-- END GENERATED:
NAME-summary -->, and NAME-workloads, NAME-cases, NAME-verdicts,
NAME-plots) are rewritten from the results; the prose around them is kept
as it is. The figures go into img/ beside the document as NAME-*.svg (this
experiment's figures that the results no longer draw are removed), and
NAME-plots links them, each with a line under it: its setting and what the
data show.

With --from nothing runs: the results in RESULTS (a results.json, or the
folder holding one) are reported and drawn again, with FILE giving the
experiment's name and its platform's settings for the figures; their
workloads and policies must be FILE's. Figures go to --out only when it is
given.

Examples:
  wskx experiment examples/experiments/default.yaml --out /tmp/trilemma --docs docs/trilemma.md
  wskx experiment examples/experiments/default.yaml --from docs/results/results.json --docs docs/trilemma.md
  scripts/redis.sh start /tmp/redis.env && . /tmp/redis.env
  wskx experiment examples/experiments/fanout.yaml --redis "$WSKX_REDIS_URL"`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			out := fs.String("out", "experiment-results", "write results, records and checkpoints into `DIR`")
			runtime := fs.String("runtime", "", "wskx `BINARY` the built-in platform runs actions with (default: this one)")
			docs := fs.String("docs", "", "rewrite the generated regions of `FILE` from the results")
			verbose := fs.BoolP("verbose", "v", false, "log the built-in platform's work to stderr")
			redis := fs.String("redis", "", "the Redis `URL` openwhisk-composer's parallel joins through, for the composer baseline (default $WSKX_REDIS_URL)")
			from := fs.String("from", "", "run nothing: report and draw the results in `RESULTS` (results.json or its folder)")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 1 {
					return usagef("expected one experiment file")
				}
				f, err := experiment.LoadFile(args[0])
				if err != nil {
					return err
				}
				if *from != "" {
					outDir := ""
					if fs.Changed("out") {
						outDir = *out
					}
					return renderFrom(env, f, *from, outDir, *docs)
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
				if slices.Contains(f.Baselines, experiment.BaselineComposer) {
					if d.Composer, err = composerBaseline(env, lp, *redis); err != nil {
						return err
					}
				}
				results, err := experiment.Execute(ctx, f, d, env.stderr, func(r []experiment.Result) error {
					return experiment.WriteResults(dir, r)
				})
				if err != nil {
					return err
				}
				if err := experiment.WriteSummary(env.stdout, results); err != nil {
					return err
				}
				figs := experiment.Figures(experiment.SettingOf(f), results)
				plots, err := experiment.WritePlots(dir, figs)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "\nresults and %d figures in %s\n", len(plots), dir)
				if *docs != "" {
					return writeDocs(f.Name, results, figs, *docs)
				}
				return nil
			}
		},
	}
}

// renderFrom reports and draws results that an earlier run of f wrote,
// without running anything.
func renderFrom(env *cliEnv, f *experiment.File, from, out, docs string) error {
	if st, err := os.Stat(from); err == nil && st.IsDir() {
		from = filepath.Join(from, "results.json")
	}
	results, err := experiment.ReadResults(from)
	if err != nil {
		return err
	}
	if err := f.Owns(results); err != nil {
		return fmt.Errorf("experiment: %s: %w", from, err)
	}
	if err := experiment.WriteSummary(env.stdout, results); err != nil {
		return err
	}
	figs := experiment.Figures(experiment.SettingOf(f), results)
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return fmt.Errorf("experiment: %w", err)
		}
		plots, err := experiment.WritePlots(out, figs)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "\n%d figures in %s\n", len(plots), out)
	}
	if docs != "" {
		return writeDocs(f.Name, results, figs, docs)
	}
	return nil
}

// writeDocs rewrites experiment name's generated regions of the document
// at docs and draws its figures into img/ beside it.
func writeDocs(name string, results []experiment.Result, figs []experiment.Figure, docs string) error {
	doc, err := os.ReadFile(docs)
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	// The document links copies of the figures beside it, so that it
	// renders without the results folder.
	docDir := filepath.Dir(docs)
	imgDir := filepath.Join(docDir, "img")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	imgs, err := experiment.WritePlots(imgDir, figs)
	if err != nil {
		return err
	}
	// This experiment's figures that these results did not draw are
	// from an earlier run or an earlier layout: the document no longer
	// links them.
	old, _ := filepath.Glob(filepath.Join(imgDir, name+"-*.svg"))
	for _, o := range old {
		if !slices.Contains(imgs, o) {
			if err := os.Remove(o); err != nil {
				return fmt.Errorf("experiment: %w", err)
			}
		}
	}
	regions := experiment.Regions(name, results)
	if regions[name+"-plots"], err = experiment.PlotLinks(docDir, imgDir, figs); err != nil {
		return err
	}
	next, err := experiment.Regenerate(doc, regions)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(docs, next); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	return nil
}

// composerBaseline finds what the composer baseline runs with, saying
// what is missing and how to get it.
func composerBaseline(env *cliEnv, lp *local.Platform, redis string) (*experiment.ComposerBaseline, error) {
	if redis == "" {
		redis = env.getenv("WSKX_REDIS_URL")
	}
	if redis == "" {
		return nil, usagef("the composer baseline needs a Redis: start one with scripts/redis.sh start ENVFILE and pass --redis URL (or set WSKX_REDIS_URL)")
	}
	home := env.getenv("WSKX_COMPOSER_HOME")
	deploy := filepath.Join(home, "bin", "deploy.js")
	if _, err := os.Stat(deploy); home == "" || err != nil {
		return nil, usagef("the composer baseline needs openwhisk-composer: run scripts/npmtools.sh install and set WSKX_COMPOSER_HOME (and WSKX_NODE_PATH) as it prints")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, usagef("the composer baseline needs node (apt-get install nodejs npm)")
	}
	return &experiment.ComposerBaseline{Node: node, Deploy: deploy, APIHost: lp.APIHost, Key: lp.User.Key, RedisURL: redis}, nil
}
