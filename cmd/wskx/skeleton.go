package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/platform/container"
)

// newSkeletonCommand is the native-action container of the local platform;
// the container pool starts it, users never need to.
func newSkeletonCommand() *command {
	return &command{
		name:    "skeleton",
		hidden:  true,
		usage:   "--port N [--host 127.0.0.1] [--dir DIR]",
		summary: "internal: native action container of the local platform",
		help: `Skeleton serves OpenWhisk's action container protocol the way the
openwhisk/dockerskeleton image does, for native actions on the local
platform (wskx standalone). POST /init places the executable "exec" in DIR
(from a base64 zip, or the code text itself); POST /run runs it with the
parameters as JSON in argv[1] and on stdin, with __OW_* variables for the
activation, and answers with the last line of its stdout, which must be a
JSON object or array. Earlier output lines are the activation's logs.

Example:
  wskx skeleton --port 8080 --dir /tmp/action`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			port := fs.Int("port", 8080, "TCP port to listen on")
			host := fs.String("host", "127.0.0.1", "address to listen on")
			dir := fs.String("dir", "action", "directory for the action's executable")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 0 {
					return usagef("expected no arguments")
				}
				if *port < 0 || *port > 65535 {
					return usagef("--port %d is not a TCP port", *port)
				}
				s := container.NewSkeleton(container.SkeletonConfig{
					Addr:   net.JoinHostPort(*host, strconv.Itoa(*port)),
					Dir:    *dir,
					Stdout: env.stdout,
					Stderr: env.stderr,
					Logger: slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
				})
				if err := s.Serve(ctx); err != nil {
					return fmt.Errorf("skeleton: %w", err)
				}
				return nil
			}
		},
	}
}
