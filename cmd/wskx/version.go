package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); builds
// without it report the module version or "devel".
var version = ""

func newVersionCommand() *command {
	return &command{
		name:    "version",
		usage:   "",
		summary: "print the wskx version",
		help: `Version prints the wskx version and the Go toolchain it was built with.

Example:
  wskx version`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 0 {
					return usagef("version takes no arguments")
				}
				_, err := fmt.Fprintf(env.stdout, "wskx %s (%s %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return err
			}
		},
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
