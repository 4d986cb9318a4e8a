package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/storage"
)

func newGCCommand() *command {
	return &command{
		name:    "gc",
		usage:   "POLICY [--older-than DURATION] [--keep K] [--dry-run]",
		summary: "remove finished jobs' checkpoints and old generations from a policy's storage",
		help: `Gc cleans the checkpoint storage a policy names. A finished job (one whose
result is stored) loses its checkpoints once nothing of it has changed for
--older-than (the policy's storage.retain_finished by default); its result
stays, so an invocation with the same key still gets it. A job still under
way keeps its newest --keep whole generations (storage.keep by default) and
loses older ones and half-written leftovers. Credentials come from the
environment, as for the step action.

Example:
  wskx gc examples/compositions/deadline.yaml --dry-run
  wskx gc examples/compositions/deadline.yaml --older-than 10m`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			older := fs.Duration("older-than", -1, "remove finished jobs unchanged for this long (default: the policy's retain_finished)")
			keep := fs.Int("keep", 0, "whole generations kept per unfinished job (default: the policy's keep)")
			dry := fs.Bool("dry-run", false, "say what would be removed, remove nothing")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 1 {
					return usagef("expected one policy file")
				}
				p, err := policies.Load(args[0])
				if err != nil {
					return err
				}
				if *older < 0 {
					*older = p.Storage.RetainFinished
				}
				if *keep <= 0 {
					*keep = p.Storage.Keep
				}
				b, err := storage.Open(ctx, p.Storage.URL)
				if err != nil {
					return err
				}
				defer b.Close()
				st := checkpoint.NewStore(b, p.Storage.Prefix, checkpoint.Options{})
				jobs, err := st.Jobs(ctx)
				if err != nil {
					return fmt.Errorf("gc: %w", err)
				}
				tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "JOB\tSTATE\tGENERATIONS\tBYTES\tCHANGED\tACTION")
				now := time.Now()
				for _, j := range jobs {
					state, action := "running", fmt.Sprintf("keep newest %d", *keep)
					var do func() error
					switch {
					case j.HasResult && now.Sub(j.Modified) >= *older && j.Objects > 1:
						state, action = "finished", "remove checkpoints"
						do = func() error { return st.Remove(ctx, j.Job) }
					case j.HasResult:
						state, action = "finished", "keep"
					default:
						do = func() error { return st.Prune(ctx, j.Job, *keep) }
					}
					if *dry && do != nil {
						action = "would " + action
					} else if do != nil {
						if err := do(); err != nil {
							return fmt.Errorf("gc %s: %w", j.Job, err)
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", j.Job, state, len(j.Generations), j.Bytes,
						now.Sub(j.Modified).Round(time.Second), action)
				}
				return tw.Flush()
			}
		},
	}
}
