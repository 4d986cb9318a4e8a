package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/local"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

func newRunCommand() *command {
	return &command{
		name:     "run",
		usage:    "FILE [-p KEY VALUE]... [--data DIR] [--apihost HOST --auth KEY | --remote]",
		summary:  "run a workflow or a job to its result and print it (the main job)",
		preparse: preparseParams,
		help: `Run is the whole story in one command: it compiles the workflow file (or
single-job policy file), deploys the conductor and step actions, invokes the
conductor, follows every component and job hop live and prints the result
with a per-hop table. A workflow's ordinary actions must exist on the
platform (deploy them with wsk or the API first, or use --apihost).

Without --apihost or --remote it starts the built-in OpenWhisk-compatible
platform in this process, keeps its records and the checkpoints (file
storage) under --data (a temporary folder, removed afterwards, by default),
and stops it at the end. With --apihost, or --remote to take the API host and
key from ~/.wskprops like wsk, it does the same against that OpenWhisk; the
policy's own storage URL is used then.

The engine is the policy's; "auto" means DMTCP where it is installed (on PATH
or under WSKX_DMTCP_HOME) and the cooperative engine otherwise. The summary
line says which one ran.

Examples:
  wskx run examples/compositions/deadline.yaml -p n 30
  wskx run examples/compositions/loop.yaml`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			var conn whisk.ConfigFlags
			conn.Register(fs)
			remote := fs.Bool("remote", false, "use the OpenWhisk of ~/.wskprops instead of the built-in platform")
			var params paramFlags
			params.register(fs)
			var view viewFlags
			view.register(fs)
			data := fs.String("data", "", "keep the built-in platform's records and checkpoints in `DIR`")
			engine := fs.String("engine", "", "override the policy's engine: dmtcp, cooperative, none or auto")
			runtime := fs.String("runtime", "", "wskx `BINARY` the built-in platform runs actions with (default: this one)")
			verbose := fs.BoolP("verbose", "v", false, "log the built-in platform's work to stderr")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 1 {
					return usagef("expected one workflow or policy file")
				}
				values, err := params.values()
				if err != nil {
					return err
				}
				w, err := policies.LoadWorkflow(args[0])
				if err != nil {
					return err
				}
				if *engine != "" {
					if w, err = w.With(policies.Overrides{Engine: *engine}, args[0]+" (with --engine)"); err != nil {
						return err
					}
				}
				view.watch = true

				var api *whisk.Client
				if conn.APIHost != "" || *remote {
					if api, err = newClient(&conn, env); err != nil {
						return err
					}
				} else {
					dir := *data
					if dir == "" {
						if dir, err = os.MkdirTemp("", "wskx-run-"); err != nil {
							return fmt.Errorf("run: %w", err)
						}
						defer os.RemoveAll(dir)
					}
					if dir, err = filepath.Abs(dir); err != nil {
						return fmt.Errorf("run: %w", err)
					}
					ov := policies.Overrides{StorageURL: "file://" + filepath.Join(dir, "store"), Dir: filepath.Join(dir, "jobs")}
					if w, err = w.With(ov, args[0]); err != nil {
						return err
					}
					logger := slog.New(slog.DiscardHandler)
					if *verbose {
						logger = slog.New(slog.NewTextHandler(env.stderr, nil))
					}
					lp, err := local.Start(ctx, local.Options{
						DataDir: filepath.Join(dir, "platform"), Runtime: *runtime, Logger: logger,
						NodePath: env.getenv("WSKX_NODE_PATH"),
						Env:      passEnv(env, "WSKX_DMTCP_HOME", "WSKX_ENCRYPTION_KEY"),
					})
					if err != nil {
						return err
					}
					defer lp.Close()
					if !view.quiet && !view.json {
						fmt.Fprintf(env.stdout, "built-in platform at %s (records and checkpoints in %s)\n", lp.APIHost, dir)
					}
					if api, err = lp.Client(); err != nil {
						return err
					}
				}
				plan, err := composer.CompileWorkflow(w, composer.Options{Namespace: api.Namespace()})
				if err != nil {
					return err
				}
				if err := chain.Deploy(ctx, api, plan); err != nil {
					return err
				}
				return invokeAndWatch(ctx, env, api, plan.Conductor.Name, values, view)
			}
		},
	}
}

// passEnv picks the named variables that are set, for the containers.
func passEnv(env *cliEnv, names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		if v := env.getenv(n); v != "" {
			out[n] = v
		}
	}
	return out
}
