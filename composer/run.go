package composer

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

// Activation is what a conductor run knows of its own activation.
type Activation struct {
	ID         string
	Namespace  string
	ActionName string // fully qualified, "/ns/name"
	APIHost    string
	APIKey     string
	Deadline   time.Time
}

// Invoker starts an invocation of an action and returns its activation id
// without waiting for it to finish.
type Invoker interface {
	InvokeAsync(ctx context.Context, action string, params map[string]any) (string, error)
}

// Conductor is the conductor role of a wskx runtime container: a policy
// compiled once at /init and run for every conductor activation.
type Conductor struct {
	flow *Flow
	// invoker makes the client that hands a job to a new invocation; it
	// is a field so that tests can see the handoff without a platform.
	invoker func(Activation) (Invoker, error)
	now     func() time.Time
	secret  []byte
}

// NewConductor compiles a conductor's code. secret is the deployment's
// (hop.SecretEnv); invoker builds the REST client used at the composition
// length limit from the activation's API host and key.
func NewConductor(code Code, secret []byte, invoker func(Activation) (Invoker, error)) (*Conductor, error) {
	if code.Role != RoleConductor {
		return nil, fmt.Errorf("conductor: code is for the %q role", code.Role)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("conductor: no %s: the conductor cannot authenticate its state; deploy it with wskx deploy, which sets it", hop.SecretEnv)
	}
	var f *Flow
	if code.Workflow != nil {
		var err error
		if f, err = NewFlow(*code.Workflow); err != nil {
			return nil, fmt.Errorf("conductor: %w", err)
		}
	} else {
		// A conductor deployed before workflows: one job and its step.
		p, err := policies.Parse(code.Policy, "<conductor code>")
		if err != nil {
			return nil, fmt.Errorf("conductor: %w", err)
		}
		if f, err = SingleFlow(p, code.Step); err != nil {
			return nil, fmt.Errorf("conductor: %w", err)
		}
	}
	return &Conductor{flow: f, invoker: invoker, now: time.Now, secret: secret}, nil
}

// Flow is the conductor's compiled workflow.
func (c *Conductor) Flow() *Flow { return c.flow }

// Run decides one conductor activation and returns its result.
func (c *Conductor) Run(ctx context.Context, params map[string]any, act Activation) (map[string]any, error) {
	d := Decide(Env{Flow: c.flow, Secret: c.secret, Now: c.now(), NewID: uuid.NewString, Activation: act.ID}, params)
	if d.Handoff == nil {
		return d.Result, nil
	}
	if c.invoker == nil {
		return d.HandoffFailed(fmt.Errorf("no API client is configured")), nil
	}
	inv, err := c.invoker(act)
	if err != nil {
		return d.HandoffFailed(err), nil
	}
	id, err := inv.InvokeAsync(ctx, act.ActionName, d.Handoff)
	if err != nil {
		return d.HandoffFailed(fmt.Errorf("invoke %s: %w", act.ActionName, err)), nil
	}
	return d.HandoffResult(id, c.now()), nil
}
