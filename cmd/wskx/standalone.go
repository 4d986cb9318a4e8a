package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/local"
	"github.com/wskx/wskx/platform"
)

func newStandaloneCommand() *command {
	return &command{
		name:    "standalone",
		usage:   "[--port 3233] [--data DIR] [--auth KEY] [--wskprops FILE] [--image NAME=COMMAND]... [--length-limit 50] [--node-path DIR]",
		summary: "run the local OpenWhisk-compatible platform",
		help: `Standalone runs wskx's own OpenWhisk-compatible platform on 127.0.0.1: the
REST API v1 (actions, packages and bindings, invocations, activations,
triggers and rules, web actions under /api/v1/web and API routes),
sequences and conductor actions, the /whisk.system/utils catalog and the
alarms feed (/whisk.system/alarms/interval, once and alarm), with action
containers run as local processes. It prints the API host and the key of
the user guest, and runs until interrupted.

The key is random, generated on the first start on a data directory and
kept there; --auth sets it instead (for example to OpenWhisk standalone's
well-known development key, so that a wsk already set up for a local
OpenWhisk works unchanged).

Actions, packages, triggers, rules, alarms, API routes and activation
records are kept under --data and survive a restart (alarms resume);
without --data they live in a temporary directory removed at exit.
--wskprops writes a wskprops file (APIHOST, AUTH, NAMESPACE) that wsk reads
through WSK_CONFIG_FILE. --image maps a blackbox image to a local command
that serves the action protocol; repeat it for more images.

Nodejs actions can require what Apache's nodejs runtime preinstalls
(openwhisk, express, serialize-error, uuid, redis): --node-path (default
$WSKX_NODE_PATH) names the node_modules directory that holds them
(scripts/npmtools.sh install puts one in
~/.cache/wskx/npm/runtime-openwhisk@VERSION-HASH/node_modules). Without it
the platform installs them with npm into --data the first time a nodejs
action runs. Python actions run on the machine's python3.

Example:
  wskx standalone --data ~/.wskx/standalone --wskprops ~/.wskprops-local`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			port := fs.Int("port", 3233, "port to listen on (127.0.0.1 only)")
			data := fs.String("data", "", "directory for actions and activation records (default: a temporary one)")
			props := fs.String("wskprops", "", "write a wskprops file for this platform here")
			auth := fs.String("auth", "", "the key (uuid:secret) of the user guest (default: generated and kept in --data)")
			images := fs.StringArray("image", nil, "map a blackbox image to a local command: NAME=COMMAND")
			length := fs.Int("length-limit", 50, "sequence and conductor length limit n")
			nodePath := fs.String("node-path", "", "node_modules directory with the openwhisk npm package for nodejs actions (default $WSKX_NODE_PATH)")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 0 {
					return usagef("unexpected arguments %q", args)
				}
				if *port < 0 || *port > 65535 {
					return usagef("--port %d is not a port", *port)
				}
				if *length < 1 {
					return usagef("--length-limit must be at least 1")
				}
				imageMap, err := parseImages(*images)
				if err != nil {
					return err
				}
				if *nodePath == "" {
					*nodePath = env.getenv("WSKX_NODE_PATH")
				}
				return runStandalone(ctx, env, standaloneOptions{
					port: *port, data: *data, auth: *auth, wskprops: *props, images: imageMap, lengthLimit: *length, nodePath: *nodePath})
			}
		},
	}
}

type standaloneOptions struct {
	port        int
	data        string
	auth        string
	wskprops    string
	images      map[string][]string
	lengthLimit int
	nodePath    string
}

// parseImages reads NAME=COMMAND flags; COMMAND is split at white space.
func parseImages(flags []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range flags {
		name, cmd, ok := strings.Cut(f, "=")
		words := strings.Fields(cmd)
		if !ok || strings.TrimSpace(name) == "" || len(words) == 0 {
			return nil, usagef("--image %q: want NAME=COMMAND", f)
		}
		out[strings.TrimSpace(name)] = words
	}
	return out, nil
}

func runStandalone(ctx context.Context, env *cliEnv, o standaloneOptions) error {
	dir := o.data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "wskx-standalone-")
		if err != nil {
			return fmt.Errorf("standalone: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p, err := local.Start(ctx, local.Options{
		DataDir:     dir,
		Addr:        net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port)),
		Images:      o.images,
		Key:         o.auth,
		LengthLimit: o.lengthLimit,
		NodePath:    o.nodePath,
		Logger:      logger,
	})
	if err != nil {
		return fmt.Errorf("standalone: %w", err)
	}
	defer p.Close()
	if o.wskprops != "" {
		if err := platform.WriteWskprops(o.wskprops, p.APIHost, p.User); err != nil {
			return fmt.Errorf("standalone: %w", err)
		}
	}
	fmt.Fprintf(env.stdout, "wskx standalone: OpenWhisk API v1 on %s\n", p.APIHost)
	fmt.Fprintf(env.stdout, "  namespace: %s\n  key:       %s\n  data:      %s\n", p.User.Namespace, p.User.Key, dir)
	if o.wskprops != "" {
		fmt.Fprintf(env.stdout, "  wskprops:  %s (use it with: export WSK_CONFIG_FILE=%s)\n", o.wskprops, o.wskprops)
	} else {
		fmt.Fprintf(env.stdout, "  point wsk at it with: wsk property set --apihost %s --auth %s\n", p.APIHost, p.User.Key)
	}
	fmt.Fprintln(env.stdout, "Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(env.stdout, "wskx standalone: stopping")
	return nil
}
