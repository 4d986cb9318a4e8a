package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/whisk"
)

func newResumeCommand() *command {
	return &command{
		name:     "resume",
		usage:    "NAME KEY [-p KEY VALUE]... [--watch]",
		summary:  "continue a job or workflow whose conductor invocation was lost",
		preparse: preparseParams,
		help: `Resume invokes the conductor NAME again for the job with idempotency key KEY
(the key is in every chain error and in the result's "$wskx" summary). The
job goes on from its newest whole checkpoint, with the hop numbers and retry
budget it had; if it had already finished, its stored result is returned and
nothing runs again; if another invocation still runs it, this one waits for
it and returns the same result. Without -p the job runs with the parameters
it was started with; with -p they must be the same ones (a key never comes
to stand for another job). A workflow (a composition of actions and jobs)
resumes by its workflow key with the parameters it was invoked with: its
finished jobs' results are replayed, the running job goes on, and its
ordinary actions run again.

Example:
  wskx resume count-deadline 6f1c3c0e-8a53-4ad4-9d0f-1b2f7f0f6a7e --watch`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			var f invocationFlags
			f.register(fs)
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 2 {
					return usagef("expected the conductor's name and the job's key")
				}
				client, values, err := f.resolve(env)
				if err != nil {
					return err
				}
				values[hop.ResumeKey] = args[1]
				if err := invokeAndWatch(ctx, env, client, args[0], values, f.view); err != nil {
					return fmt.Errorf("resume %s: %w", args[1], err)
				}
				return nil
			}
		},
	}
}

var _ chain.API = (*whisk.Client)(nil)
