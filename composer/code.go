package composer

import (
	"encoding/json"
	"fmt"

	"github.com/wskx/wskx/program"
)

// Roles a wskx runtime container can play.
const (
	RoleConductor = "conductor"
	RoleStep      = "step"
)

// Code is the /init code of a workflow's actions. It carries everything
// the role needs, so that a container needs nothing but its /init to work:
// the conductor its workflow (program, job policies and step names), a
// step its job's policy.
type Code struct {
	Role string `json:"wskx"` // RoleConductor or RoleStep
	// Workflow is the conductor's workflow.
	Workflow *WorkflowCode `json:"workflow,omitempty"`
	// Policy is a step's job policy (policies.Parse reads it), or, with
	// Step, the one job of a conductor deployed before workflows.
	Policy    json.RawMessage `json:"policy,omitempty"`
	Step      string          `json:"step,omitempty"`      // old conductor: fully qualified step action name
	Conductor string          `json:"conductor,omitempty"` // step: fully qualified conductor action name
	// Baseline deploys the step as an experiment's baseline instead of a
	// chain's step ("" or BaselineSelfInvoke). It is part of the action,
	// so no caller can choose it.
	Baseline string `json:"baseline,omitempty"`
}

// BaselineSelfInvoke is the original design's self-invoking function.
const BaselineSelfInvoke = "self-invoke"

// ParseCode reads /init code. It fails on anything that is not a wskx
// composition, so a proxy never guesses its role.
func ParseCode(b []byte) (Code, error) {
	var c Code
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("parse code: %w", err)
	}
	switch c.Role {
	case RoleConductor, RoleStep:
	default:
		return c, fmt.Errorf("parse code: role %q is neither %q nor %q", c.Role, RoleConductor, RoleStep)
	}
	switch {
	case c.Role == RoleStep && len(c.Policy) == 0:
		return c, fmt.Errorf("parse code: a step needs its job's policy")
	case c.Role == RoleConductor && c.Workflow == nil && (len(c.Policy) == 0 || c.Step == ""):
		return c, fmt.Errorf("parse code: a conductor needs its workflow")
	}
	switch c.Baseline {
	case "":
	case BaselineSelfInvoke:
		if c.Role != RoleStep {
			return c, fmt.Errorf("parse code: only a step can be the %q baseline", c.Baseline)
		}
	default:
		return c, fmt.Errorf("parse code: unknown baseline %q", c.Baseline)
	}
	return c, nil
}

// Steps are the fully qualified names of a conductor's step actions, one
// per job node.
func (c Code) Steps() ([]string, error) {
	if c.Workflow == nil {
		return []string{c.Step}, nil
	}
	prog, err := program.Decode(c.Workflow.Program)
	if err != nil {
		return nil, fmt.Errorf("code: %w", err)
	}
	out := make([]string, 0, len(prog.Jobs))
	for _, j := range prog.Jobs {
		out = append(out, j.Step)
	}
	return out, nil
}
