package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

// Deps are what the roles need from outside the package: the engines and
// the storage live in packages of their own.
type Deps struct {
	Engine    func(ctx context.Context, name string) (Engine, error)
	OpenStore func(ctx context.Context, st policies.Storage) (Store, error)
	// NewInvoker makes a REST client from an activation's API host and
	// key; WhiskInvoker by default.
	NewInvoker     func(apiHost, apiKey string) (composer.Invoker, error)
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
	// Faults is WSKX_FAULT (see fault.go); empty in production.
	Faults string
	// Getenv reads the container's environment, where an image may set
	// the deployment's secret (hop.SecretEnv) instead of /init's env.
	Getenv func(string) string
}

// secret finds the deployment's secret: an init parameter (OpenWhisk's
// way to give an action a secret) or the container's environment.
func (d Deps) secret(init InitRequest) ([]byte, error) {
	s := init.Env[hop.SecretEnv]
	if s == "" && d.Getenv != nil {
		s = d.Getenv(hop.SecretEnv)
	}
	if s == "" {
		return nil, nil
	}
	return hop.ParseSecret(s)
}

// joins opens a workflow's storage for its fan-outs' joins.
func (d Deps) joins(ctx context.Context, st policies.Storage) (composer.JoinStore, error) {
	if d.OpenStore == nil {
		return nil, fmt.Errorf("joins: no storage is configured")
	}
	s, err := d.OpenStore(ctx, st)
	if err != nil {
		return nil, err
	}
	j, ok := s.(composer.JoinStore)
	if !ok {
		s.Close()
		return nil, fmt.Errorf("joins: the checkpoint store keeps no joins")
	}
	return j, nil
}

// NewRoleFactory returns the RoleFactory of the wskx runtime: the /init
// code is a composer.Code naming the conductor or the step role.
func NewRoleFactory(d Deps) RoleFactory {
	if d.NewInvoker == nil {
		d.NewInvoker = WhiskInvoker
	}
	return func(ctx context.Context, code []byte, init InitRequest) (Role, error) {
		c, err := composer.ParseCode(code)
		if err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
		secret, err := d.secret(init)
		if err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
		switch c.Role {
		case composer.RoleConductor:
			cond, err := composer.NewConductor(c, secret, composer.ConductorDeps{
				Invoker: func(a composer.Activation) (composer.Invoker, error) { return d.NewInvoker(a.APIHost, a.APIKey) },
				Joins:   d.joins,
				Logger:  d.Logger,
			})
			if err != nil {
				return nil, fmt.Errorf("init: %w", err)
			}
			return conductorRole{cond}, nil
		default:
			p, err := policies.Parse(c.Policy, "<step code>")
			if err != nil {
				return nil, fmt.Errorf("init: %w", err)
			}
			s, err := NewStep(StepConfig{Policy: p, Conductor: c.Conductor, Engine: d.Engine, OpenStore: d.OpenStore,
				NewInvoker: d.NewInvoker, Stdout: d.Stdout, Stderr: d.Stderr, Logger: d.Logger, Faults: d.Faults,
				Secret: secret, SelfInvoke: c.Baseline == composer.BaselineSelfInvoke})
			if err != nil {
				return nil, fmt.Errorf("init: %w", err)
			}
			return s, nil
		}
	}
}

// conductorRole runs the composer's decision logic per activation.
type conductorRole struct{ c *composer.Conductor }

func (r conductorRole) Run(ctx context.Context, act Activation, params map[string]any) (map[string]any, error) {
	return r.c.Run(ctx, params, composer.Activation{
		ID: act.ID, Namespace: act.Namespace, ActionName: act.ActionName,
		APIHost: act.APIHost, APIKey: act.APIKey, Deadline: act.Deadline,
	})
}

// WhiskInvoker is a composer.Invoker over the project's REST client.
func WhiskInvoker(apiHost, apiKey string) (composer.Invoker, error) {
	if apiHost == "" || apiKey == "" {
		return nil, fmt.Errorf("invoker: no API host or key (the action needs the provide-api-key annotation)")
	}
	c, err := whisk.NewClient(whisk.Config{APIHost: apiHost, Auth: apiKey}, nil)
	if err != nil {
		return nil, fmt.Errorf("invoker: %w", err)
	}
	return whiskInvoker{c}, nil
}

type whiskInvoker struct{ c *whisk.Client }

func (w whiskInvoker) Ended(ctx context.Context, id string) (bool, error) {
	_, err := w.c.GetActivation(ctx, id)
	if whisk.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (w whiskInvoker) InvokeAsync(ctx context.Context, action string, params map[string]any) (string, error) {
	inv, err := w.c.Invoke(ctx, action, params, whisk.InvokeOptions{})
	if err != nil {
		return "", err
	}
	return inv.ActivationID, nil
}

// The runner's store keeps fan-outs' joins as well as checkpoints.
var _ composer.JoinStore = (*checkpointStore)(nil)
