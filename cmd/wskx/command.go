package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
)

// command is one wskx subcommand. Each lives in a file of its own and is
// listed in the table built by commands().
type command struct {
	name    string // as typed: "compose"
	usage   string // argument synopsis: "POLICY [-o FILE]"
	summary string // one line for the command list
	help    string // paragraphs shown by --help, ending with an example
	// flags declares the command's flags on fs; it returns the function
	// that runs the command once the flags are parsed.
	flags func(fs *pflag.FlagSet) func(ctx context.Context, env *cliEnv, args []string) error
	// preparse, when set, rewrites the arguments before flag parsing (for
	// wsk's two-word "-p KEY VALUE" form, which pflag cannot express).
	preparse func(args []string) ([]string, error)
	// hidden commands are plumbing the platform runs (skeleton); they
	// have help but stay out of the command list.
	hidden bool
}

// cliEnv carries what commands share instead of reaching for globals.
type cliEnv struct {
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	getenv func(string) string
}

func newCLIEnv() *cliEnv {
	return &cliEnv{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, getenv: os.Getenv}
}

// usageError marks an error caused by how the command was called; main
// prints the command's usage line after it and exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...)}
}
