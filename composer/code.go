package composer

import (
	"encoding/json"
	"fmt"
)

// Roles a wskx runtime container can play.
const (
	RoleConductor = "conductor"
	RoleStep      = "step"
)

// Code is the /init code of both actions of a composition. It carries the
// whole policy so that a container needs nothing but its /init to work.
type Code struct {
	Role      string          `json:"wskx"`                // RoleConductor or RoleStep
	Policy    json.RawMessage `json:"policy"`              // the policy document (policies.Parse reads it)
	Step      string          `json:"step,omitempty"`      // conductor: fully qualified step action name
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
	if len(c.Policy) == 0 {
		return c, fmt.Errorf("parse code: no policy")
	}
	if c.Role == RoleConductor && c.Step == "" {
		return c, fmt.Errorf("parse code: a conductor needs the step action's name")
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
