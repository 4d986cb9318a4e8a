package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/whisk"
)

func newInvokeCommand() *command {
	return &command{
		name:     "invoke",
		usage:    "NAME [-p KEY VALUE]... [--param-file FILE] [--watch] [--quiet|--json]",
		summary:  "invoke a conductor and follow its chain to the result",
		preparse: preparseParams,
		help: `Invoke starts the job of a deployed conductor, as 'wsk action invoke' would,
and prints its activation id. With --watch it follows the chain live from the
activation records, one line per hop (hop, attempt, status, engine, elapsed,
work and overhead, checkpoint size), across every invocation a long job
needs, and prints the result and a per-hop table. --quiet prints only the
result; --json prints the whole outcome (hops, invocations, result) as JSON.
The exit status is 1 when the job ended with an error.

Example:
  wskx invoke count-deadline -p n 40 --watch`,
		flags: func(fs *pflag.FlagSet) func(context.Context, *cliEnv, []string) error {
			var f invocationFlags
			f.register(fs)
			return func(ctx context.Context, env *cliEnv, args []string) error {
				if len(args) != 1 {
					return usagef("expected the conductor's name")
				}
				client, values, err := f.resolve(env)
				if err != nil {
					return err
				}
				return invokeAndWatch(ctx, env, client, args[0], values, f.view)
			}
		},
	}
}

// invocationFlags are what every command that invokes a conductor takes:
// where OpenWhisk is, the parameters, and how to show the outcome.
type invocationFlags struct {
	conn   whisk.ConfigFlags
	params paramFlags
	view   viewFlags
}

func (f *invocationFlags) register(fs *pflag.FlagSet) {
	f.conn.Register(fs)
	f.params.register(fs)
	f.view.register(fs)
}

// resolve makes the client and reads the parameters.
func (f *invocationFlags) resolve(env *cliEnv) (*whisk.Client, map[string]any, error) {
	values, err := f.params.values()
	if err != nil {
		return nil, nil, err
	}
	client, err := newClient(&f.conn, env)
	if err != nil {
		return nil, nil, err
	}
	return client, values, nil
}

// viewFlags say how an invocation is shown.
type viewFlags struct {
	watch, quiet, json bool
	every              time.Duration
}

func (v *viewFlags) register(fs *pflag.FlagSet) {
	fs.BoolVarP(&v.watch, "watch", "w", false, "follow the chain live until the result")
	fs.BoolVarP(&v.quiet, "quiet", "q", false, "print only the result (implies --watch)")
	fs.BoolVar(&v.json, "json", false, "print the outcome as JSON (implies --watch)")
	fs.DurationVar(&v.every, "poll", 500*time.Millisecond, "how often to poll the activation records")
}

// errJobFailed is returned when the job ended with an error, after the
// error was printed.
var errJobFailed = errors.New("the job ended with an error")

func invokeAndWatch(ctx context.Context, env *cliEnv, api chain.API, name string, params map[string]any, view viewFlags) error {
	comp, err := chain.Lookup(ctx, api, name)
	if err != nil {
		return err
	}
	inv, err := api.Invoke(ctx, name, params, whisk.InvokeOptions{})
	if err != nil {
		return fmt.Errorf("invoke %s: %w", name, err)
	}
	if !view.watch && !view.quiet && !view.json {
		fmt.Fprintf(env.stdout, "ok: invoked %s with id %s\n", name, inv.ActivationID)
		return nil
	}
	return watch(ctx, env, api, comp, inv.ActivationID, view)
}

func watch(ctx context.Context, env *cliEnv, api chain.API, comp chain.Composition, id string, view viewFlags) error {
	started := time.Now().UnixMilli()
	live := view.watch && !view.quiet && !view.json
	if live {
		fmt.Fprintf(env.stdout, "invoked %s: activation %s\n", comp.Conductor, id)
	}
	out, err := chain.Follow(ctx, api, comp, id, view.every, func(h chain.Hop) {
		if live {
			chain.WriteHopLine(env.stdout, h, started)
		}
	})
	if err != nil {
		return err
	}
	switch {
	case view.json:
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s\n", b)
	case view.quiet:
		fmt.Fprintf(env.stdout, "%s\n", indent(out.Result))
	default:
		printOutcome(env.stdout, out)
	}
	if !out.Success {
		return errJobFailed
	}
	return nil
}

func printOutcome(w io.Writer, out *chain.Outcome) {
	fmt.Fprintf(w, "\nresult (%s):\n%s\n\n", out.Status, indent(out.Result))
	_ = chain.WriteTable(w, out.Hops)
	s := out.Summary
	switch {
	case s == nil:
	case s.Workflow != "":
		fmt.Fprintf(w, "\nworkflow %s: %d components, %d job(s), %d hops, %d retries, %d invocation(s), %s\n",
			s.Workflow, s.Components, len(s.Jobs), s.Hops, s.Retries, len(out.Invocations), time.Duration(s.ElapsedMS)*time.Millisecond)
	default:
		fmt.Fprintf(w, "\njob %s (key %s): %d hops, %d retries, %d invocation(s), engine %s, %s\n",
			s.Job, s.Key, s.Hops, s.Retries, len(out.Invocations), s.Engine, time.Duration(s.ElapsedMS)*time.Millisecond)
	}
}

func indent(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
