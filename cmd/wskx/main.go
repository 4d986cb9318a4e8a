// Command wskx runs long jobs on Apache OpenWhisk past the action time
// limit as a chain of checkpoint/restore hops, and measures what that
// costs. Run `wskx help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/policies"
)

// commands is the command table, in the order `wskx help` lists them.
func commands() []*command {
	return []*command{
		newRunCommand(),
		newComposeCommand(),
		newDeployCommand(),
		newInvokeCommand(),
		newResumeCommand(),
		newGCCommand(),
		newExperimentCommand(),
		newStandaloneCommand(),
		newProxyCommand(),
		newSkeletonCommand(),
		newVersionCommand(),
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newCLIEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit status: 0
// on success, 1 when the command failed, 2 when it was called wrongly.
func run(ctx context.Context, env *cliEnv, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c := find(cmds, args[1]); c != nil {
				printHelp(env.stdout, c, nil)
				return 0
			}
		}
		printCommands(env.stdout, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c := find(cmds, args[0])
	if c == nil {
		fmt.Fprintf(env.stderr, "wskx: unknown command %q; run 'wskx help' for the list\n", args[0])
		return 2
	}
	fs := pflag.NewFlagSet("wskx "+c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	runFn := c.flags(fs)
	rest := args[1:]
	if c.preparse != nil {
		var err error
		if rest, err = c.preparse(rest); err != nil {
			fmt.Fprintf(env.stderr, "wskx %s: %v\nusage: wskx %s %s\n", c.name, err, c.name, c.usage)
			return 2
		}
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printHelp(env.stdout, c, fs)
			return 0
		}
		fmt.Fprintf(env.stderr, "wskx %s: %v\nusage: wskx %s %s\n", c.name, err, c.name, c.usage)
		return 2
	}
	if err := runFn(ctx, env, fs.Args()); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.stderr, "wskx %s: %v\nusage: wskx %s %s\n", c.name, err, c.name, c.usage)
			return 2
		}
		var list policies.ErrorList
		if errors.As(err, &list) {
			// Located errors stand on their own, one per line, so that
			// editors and CI annotate them.
			fmt.Fprintln(env.stderr, list.Error())
			return 1
		}
		fmt.Fprintf(env.stderr, "wskx %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

func find(cmds []*command, name string) *command {
	i := slices.IndexFunc(cmds, func(c *command) bool { return c.name == name })
	if i < 0 {
		return nil
	}
	return cmds[i]
}

func printCommands(w io.Writer, cmds []*command) {
	fmt.Fprint(w, "wskx runs long jobs on Apache OpenWhisk past the action time limit,\n"+
		"as a conductor composition of checkpoint/restore hops.\n\nUsage: wskx COMMAND [flags] [args]\n\nCommands:\n")
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		if c.hidden {
			continue
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'wskx COMMAND --help' for a command's flags and an example.\n")
}

func printHelp(w io.Writer, c *command, fs *pflag.FlagSet) {
	if fs == nil {
		fs = pflag.NewFlagSet(c.name, pflag.ContinueOnError)
		c.flags(fs)
	}
	fmt.Fprintf(w, "Usage: wskx %s %s\n\n%s\n", c.name, c.usage, strings.TrimSpace(c.help))
	if fs.HasAvailableFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", fs.FlagUsages())
	}
}
