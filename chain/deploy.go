package chain

import (
	"context"
	"fmt"

	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/whisk"
)

// API is the part of the OpenWhisk client the chain uses.
type API interface {
	PutAction(ctx context.Context, name string, a *whisk.Action, overwrite bool) (*whisk.Action, error)
	GetAction(ctx context.Context, name string) (*whisk.Action, error)
	Invoke(ctx context.Context, name string, params any, opts whisk.InvokeOptions) (*whisk.Invocation, error)
	GetActivation(ctx context.Context, id string) (*whisk.Activation, error)
	ListActivations(ctx context.Context, opts whisk.ActivationListOptions) ([]whisk.Activation, error)
}

// Deploy creates or updates both actions of a plan. The step goes first:
// a conductor that exists only ever refers to a step that exists too.
// Deploying the same plan again changes nothing but the versions. A
// deployed conductor's secret is kept, so that running jobs' states and
// reports still verify after an update.
func Deploy(ctx context.Context, api API, plan *composer.Plan) error {
	if old, err := api.GetAction(ctx, plan.Conductor.Name); err == nil {
		if s, ok := old.Parameters.Get(hop.SecretEnv).(string); ok {
			if _, err := hop.ParseSecret(s); err == nil {
				plan.Conductor.Parameters = plan.Conductor.Parameters.Set(hop.SecretEnv, s)
				plan.Step.Parameters = plan.Step.Parameters.Set(hop.SecretEnv, s)
			}
		}
	} else if !whisk.IsNotFound(err) {
		return fmt.Errorf("deploy %s: %w", plan.Conductor.Name, err)
	}
	for _, a := range []*whisk.Action{&plan.Step, &plan.Conductor} {
		body := &whisk.Action{Exec: a.Exec, Annotations: a.Annotations, Parameters: a.Parameters, Limits: a.Limits}
		if _, err := api.PutAction(ctx, a.Name, body, true); err != nil {
			return fmt.Errorf("deploy %s: %w", a.Name, err)
		}
	}
	return nil
}

// Composition is what the chain needs to know of a deployed conductor.
type Composition struct {
	Conductor string // the conductor's name as the user gave it
	Step      string // the step action's fully qualified name
	Policy    string // the policy's name
}

// Lookup reads a deployed conductor and finds its step action, so that a
// user needs only the conductor's name to invoke and watch a chain.
func Lookup(ctx context.Context, api API, conductor string) (Composition, error) {
	a, err := api.GetAction(ctx, conductor)
	if err != nil {
		return Composition{}, fmt.Errorf("lookup %s: %w", conductor, err)
	}
	if a.Exec == nil || a.Exec.Code == "" {
		return Composition{}, fmt.Errorf("lookup %s: not a wskx conductor (no code)", conductor)
	}
	code, err := composer.ParseCode([]byte(a.Exec.Code))
	if err != nil || code.Role != composer.RoleConductor {
		return Composition{}, fmt.Errorf("lookup %s: not a wskx conductor", conductor)
	}
	policy, _ := a.Annotations.Get("wskx-policy").(string)
	return Composition{Conductor: conductor, Step: code.Step, Policy: policy}, nil
}
