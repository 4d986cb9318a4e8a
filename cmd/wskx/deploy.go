package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

func newDeployCommand() *command {
	return &command{
		name:    "deploy",
		usage:   "POLICY [--name NAME] [--apihost HOST --auth KEY]",
		summary: "create or update a policy's conductor and step actions",
		help: `Deploy compiles a policy and creates or updates its two actions through the
OpenWhisk REST API: the step action NAME-step first, then the conductor NAME.
Running it again with the same policy is harmless. The API host and key come
from ~/.wskprops (or WSK_CONFIG_FILE), WHISK_APIHOST/WHISK_AUTH, or the flags,
as for wsk.

Afterwards the conductor is invoked like any action:
  wsk action invoke NAME -p n 40 --result

Example:
  wskx deploy examples/compositions/deadline.yaml --apihost http://127.0.0.1:3233 --auth "$KEY"`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			var conn whisk.ConfigFlags
			conn.Register(fs)
			name := fs.String("name", "", "conductor action `NAME` (default: the policy's name)")
			image := fs.String("image", composer.DefaultImage, "runtime `IMAGE` of the conductor and step actions")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 1 {
					return usagef("expected one policy file")
				}
				client, err := newClient(&conn, env)
				if err != nil {
					return err
				}
				plan, err := compileFile(args[0], client.Namespace(), *name, *image)
				if err != nil {
					return err
				}
				if err := chain.Deploy(ctx, client, plan); err != nil {
					return err
				}
				steps := make([]string, len(plan.Steps))
				for i, s := range plan.Steps {
					steps[i] = s.Name
				}
				fmt.Fprintf(env.stdout, "deployed %s (conductor) and %s (%s)\n", plan.Conductor.Name, strings.Join(steps, ", "), plural(len(steps), "step"))
				return nil
			}
		},
	}
}

func newClient(conn *whisk.ConfigFlags, env *cliEnv) (*whisk.Client, error) {
	cfg, err := conn.Resolve(env.getenv)
	if err != nil {
		return nil, err
	}
	return whisk.NewClient(cfg, nil)
}

// compileFile compiles a workflow file, or a single-job policy file.
func compileFile(path, namespace, name, image string) (*composer.Plan, error) {
	w, err := policies.LoadWorkflow(path)
	if err != nil {
		return nil, err
	}
	return composer.CompileWorkflow(w, composer.Options{Namespace: namespace, Name: name, Image: image})
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
