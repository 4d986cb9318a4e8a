package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/policies"
)

func newComposeCommand() *command {
	return &command{
		name:    "compose",
		usage:   "POLICY [-o FILE]",
		summary: "check a policy and print its conductor and step actions as JSON",
		help: `Compose reads a policy file (YAML or JSON), checks it, and prints the two
OpenWhisk actions it becomes: the conductor action (annotated conductor:true)
that decides hop by hop whether the chain goes on, and the step action that
runs one hop of the job. Mistakes are reported as FILE:LINE:COLUMN: field:
what was expected, all at once, and the exit status is 1.

The output is what 'wskx deploy' sends to the OpenWhisk REST API; with -o it
is written atomically to FILE.

Example:
  wskx compose examples/compositions/deadline.yaml
  wskx compose examples/compositions/deadline.yaml --namespace guest -o plan.json`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			out := fs.StringP("output", "o", "", "write the JSON to `FILE` instead of standard output")
			ns := fs.String("namespace", "_", "namespace the actions refer to each other in")
			name := fs.String("name", "", "conductor action `NAME` (default: the policy's name)")
			image := fs.String("image", composer.DefaultImage, "runtime `IMAGE` of both actions")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 1 {
					return usagef("expected one policy file, got %d arguments", len(args))
				}
				p, err := policies.Load(args[0])
				if err != nil {
					return err
				}
				plan, err := composer.Compile(p, composer.Options{Namespace: *ns, Name: *name, Image: *image})
				if err != nil {
					return err
				}
				b, err := json.MarshalIndent(plan, "", "  ")
				if err != nil {
					return fmt.Errorf("compose: %w", err)
				}
				b = append(b, '\n')
				if *out == "" {
					_, err = env.stdout.Write(b)
					return err
				}
				return writeFileAtomic(*out, b)
			}
		},
	}
}

// writeFileAtomic writes through a temporary file and a rename, so a
// reader never sees half a file and a failure leaves the old one.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
