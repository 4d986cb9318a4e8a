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

// Deploy creates or updates the actions of a plan. The workflow's own
// actions and the steps go first: a conductor that exists only ever
// refers to components that exist too.
// Deploying the same plan again changes nothing but the versions. A
// deployed conductor's secret is kept, so that running jobs' states and
// reports still verify after an update.
func Deploy(ctx context.Context, api API, plan *composer.Plan) error {
	if old, err := api.GetAction(ctx, plan.Conductor.Name); err == nil {
		if s, ok := old.Parameters.Get(hop.SecretEnv).(string); ok {
			if _, err := hop.ParseSecret(s); err == nil {
				plan.Conductor.Parameters = plan.Conductor.Parameters.Set(hop.SecretEnv, s)
				for i := range plan.Steps {
					plan.Steps[i].Parameters = plan.Steps[i].Parameters.Set(hop.SecretEnv, s)
				}
			}
		}
	} else if !whisk.IsNotFound(err) {
		return fmt.Errorf("deploy %s: %w", plan.Conductor.Name, err)
	}
	actions := make([]*whisk.Action, 0, len(plan.Actions)+len(plan.Steps)+1)
	for i := range plan.Actions {
		actions = append(actions, &plan.Actions[i])
	}
	for i := range plan.Steps {
		actions = append(actions, &plan.Steps[i])
	}
	for _, a := range append(actions, &plan.Conductor) {
		body := &whisk.Action{Exec: a.Exec, Annotations: a.Annotations, Parameters: a.Parameters, Limits: a.Limits}
		if _, err := api.PutAction(ctx, a.Name, body, true); err != nil {
			return fmt.Errorf("deploy %s: %w", a.Name, err)
		}
	}
	return nil
}

// Composition is what the chain needs to know of a deployed conductor.
type Composition struct {
	Conductor string   // the conductor's name as the user gave it
	Steps     []string // the step actions' fully qualified names, one per job
	Policy    string   // the workflow's (or policy's) name
	// Workflow says the conductor runs a workflow, whose components may be
	// any action, rather than a single job's steps.
	Workflow bool
}

// CompositionOf is what a plan deploys.
func CompositionOf(plan *composer.Plan) (Composition, error) {
	return compositionOf(plan.Conductor.Name, &plan.Conductor)
}

// Lookup reads a deployed conductor and finds its step action, so that a
// user needs only the conductor's name to invoke and watch a chain.
func Lookup(ctx context.Context, api API, conductor string) (Composition, error) {
	a, err := api.GetAction(ctx, conductor)
	if err != nil {
		return Composition{}, fmt.Errorf("lookup %s: %w", conductor, err)
	}
	return compositionOf(conductor, a)
}

func compositionOf(conductor string, a *whisk.Action) (Composition, error) {
	if a.Exec == nil || a.Exec.Code == "" {
		return Composition{}, fmt.Errorf("lookup %s: not a wskx conductor (no code)", conductor)
	}
	code, err := composer.ParseCode([]byte(a.Exec.Code))
	if err != nil || code.Role != composer.RoleConductor {
		return Composition{}, fmt.Errorf("lookup %s: not a wskx conductor", conductor)
	}
	steps, err := code.Steps()
	if err != nil {
		return Composition{}, fmt.Errorf("lookup %s: %w", conductor, err)
	}
	policy, _ := a.Annotations.Get("wskx-policy").(string)
	return Composition{Conductor: conductor, Steps: steps, Policy: policy, Workflow: code.Workflow != nil && !code.Workflow.Single}, nil
}
