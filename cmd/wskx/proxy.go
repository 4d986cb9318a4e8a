package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/runner"
	"github.com/wskx/wskx/runner/cooperative"
	"github.com/wskx/wskx/runner/dmtcp"
	"github.com/wskx/wskx/runner/none"
)

func newProxyCommand() *command {
	return &command{
		name:    "proxy",
		usage:   "[--port 8080] [--host HOST]",
		summary: "serve OpenWhisk's action container protocol (the wskx runtime image's entry point)",
		help: `Proxy is what runs inside a wskx action container. It answers OpenWhisk's
POST /init and POST /run. The /init code (written by 'wskx compose') makes the
container either a chain's conductor or its step: the step launches or
restores the job under the policy's engine, checkpoints it before the
deadline (and on the policy's interval), stores the checkpoint and reports
to the conductor.

The engine "auto" means DMTCP when dmtcp_launch is found (under
WSKX_DMTCP_HOME or on PATH), else the cooperative engine.

What the conductor and the step log goes to stderr, into the activation's
logs. The proxy's own lines (listening, a failed /init or /run, whose
errors are in the answer anyway) are written only when OW_DEBUG is set, as
in OpenWhisk's runtimes.

Example:
  wskx proxy --port 8080`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			port := fs.Int("port", 8080, "TCP port to listen on")
			host := fs.String("host", "", "address to listen on (all interfaces by default, as in a container)")
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 0 {
					return usagef("expected no arguments")
				}
				if *port < 0 || *port > 65535 {
					return usagef("--port %d is not a TCP port", *port)
				}
				// What the roles log is the action's own output, and belongs
				// in its activation's logs; the proxy's own lines do not,
				// as in OpenWhisk's runtimes, unless OW_DEBUG asks for them
				// (openwhisk-runtime-go's switch).
				logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
				proxyLog := slog.New(slog.DiscardHandler)
				if env.getenv("OW_DEBUG") != "" {
					proxyLog = logger
				}
				p := runner.NewProxy(runner.ProxyConfig{
					NewRole: runner.NewRoleFactory(runner.Deps{
						Engine: func(ctx context.Context, name string) (runner.Engine, error) {
							return chooseEngine(name, logger)
						},
						OpenStore: runner.OpenStore,
						Stdout:    env.stdout, Stderr: env.stderr, Logger: logger,
						Faults: env.getenv(runner.FaultEnv),
					}),
					Stdout: env.stdout, Stderr: env.stderr, Getenv: env.getenv, Logger: proxyLog,
				})
				addr := net.JoinHostPort(*host, strconv.Itoa(*port))
				err := p.Serve(ctx, addr, func(a string) { proxyLog.Info("proxy listening", "addr", a) })
				if err != nil {
					return fmt.Errorf("serve: %w", err)
				}
				return nil
			}
		},
	}
}

// chooseEngine is the one place an engine name becomes an engine: "auto"
// is DMTCP when its programs are found (under WSKX_DMTCP_HOME or on
// PATH), else the cooperative engine.
func chooseEngine(name string, logger *slog.Logger) (runner.Engine, error) {
	switch name {
	case policies.EngineDMTCP:
		return dmtcp.New(dmtcp.Options{Logger: logger})
	case policies.EngineCooperative:
		return cooperative.New(cooperative.Options{Logger: logger})
	case policies.EngineNone:
		return none.New(none.Options{Logger: logger})
	case policies.EngineAuto:
		e, err := dmtcp.New(dmtcp.Options{Logger: logger})
		if errors.Is(err, dmtcp.ErrNotInstalled) {
			logger.Info("DMTCP is not installed; engine auto uses the cooperative engine")
			return cooperative.New(cooperative.Options{Logger: logger})
		}
		return e, err
	}
	return nil, fmt.Errorf("unknown engine %q; expected dmtcp, cooperative, none or auto", name)
}
