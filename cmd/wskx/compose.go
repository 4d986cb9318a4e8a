package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/composer"
)

func newComposeCommand() *command {
	return &command{
		name:    "compose",
		usage:   "FILE [-o FILE]",
		summary: "check a workflow or policy file and print the actions it becomes as JSON",
		help: `Compose reads a workflow file (a composition: sequence, if, while, retry,
try, let... around actions and long jobs) or a single-job policy file, YAML
or JSON, checks it, and prints the OpenWhisk actions it becomes: ONE
conductor action (annotated conductor:true) whose code is the whole workflow
as a program, and a step action per job node that runs one hop of that job.
Mistakes, in the file and in the job files it names, are reported as
FILE:LINE:COLUMN: field: what was expected, all at once, and the exit status
is 1.

The output is what 'wskx deploy' sends to the OpenWhisk REST API; with -o it
is written atomically to FILE.

Examples:
  wskx compose examples/compositions/deadline.yaml
  wskx compose examples/compositions/pipeline.yaml --namespace guest -o plan.json`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			out := fs.StringP("output", "o", "", "write the JSON to `FILE` instead of standard output")
			ns := fs.String("namespace", "_", "namespace the actions refer to each other in")
			name := fs.String("name", "", "conductor action `NAME` (default: the file's name)")
			image := fs.String("image", composer.DefaultImage, "runtime `IMAGE` of the conductor and step actions")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 1 {
					return usagef("expected one workflow or policy file, got %d arguments", len(args))
				}
				plan, err := compileFile(args[0], *ns, *name, *image)
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
