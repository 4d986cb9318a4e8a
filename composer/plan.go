package composer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

// DefaultImage is the wskx runtime image; the built-in platform maps it to
// the running wskx binary.
const DefaultImage = "wskx/runtime"

// Conductor action limits. A conductor run only decides, in milliseconds,
// so the smallest memory OpenWhisk allows is plenty.
const (
	ConductorTimeout = 60 * time.Second
	ConductorMemory  = policies.MinMemory
)

// Options name and place the deployed actions.
type Options struct {
	Namespace string // "_" (the caller's) by default
	Name      string // the conductor's name; the policy's by default
	Image     string // the runtime image; DefaultImage by default
	// Secret authenticates the state and reports that cross between the
	// two actions (hop.NewSecret); a fresh one when empty. Redeploying a
	// running job's actions must keep it (chain.Deploy does).
	Secret string
	// Baseline deploys the step as an experiment's baseline (Code.Baseline).
	Baseline string
}

// Plan is a compiled composition: the two actions to deploy.
type Plan struct {
	Conductor whisk.Action `json:"conductor"`
	Step      whisk.Action `json:"step"`
}

// StepName is the step action's name for a conductor named name.
func StepName(name string) string { return name + "-step" }

// Compile turns a policy into the conductor and step action definitions.
func Compile(p *policies.Policy, opts Options) (*Plan, error) {
	if opts.Namespace == "" {
		opts.Namespace = "_"
	}
	if opts.Name == "" {
		opts.Name = p.Name
	}
	if opts.Name == "" {
		return nil, fmt.Errorf("compile: the policy has no name and none was given")
	}
	if opts.Image == "" {
		opts.Image = DefaultImage
	}
	ns := strings.Trim(opts.Namespace, "/")
	conductorName, stepName := opts.Name, StepName(opts.Name)
	fq := func(name string) string { return "/" + ns + "/" + name }

	doc := p.Document()
	condCode, err := marshal(Code{Role: RoleConductor, Policy: doc, Step: fq(stepName)})
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	stepCode, err := marshal(Code{Role: RoleStep, Policy: doc, Conductor: fq(conductorName), Baseline: opts.Baseline})
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}

	if opts.Secret == "" {
		opts.Secret = hop.NewSecret()
	}
	if _, err := hop.ParseSecret(opts.Secret); err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	// An init parameter reaches the container once, at /init, as an
	// environment variable, and never an activation's input or result.
	secret := whisk.KeyValues{{Key: hop.SecretEnv, Value: opts.Secret, Init: true}}

	common := whisk.KeyValues{
		{Key: "wskx-policy", Value: p.Name},
		// Both roles call the API: the conductor to hand a job to a new
		// invocation at the length limit, the step in the self-invoke
		// baseline. OpenWhisk withholds the key unless this is set.
		{Key: "provide-api-key", Value: true},
	}
	if p.Description != "" {
		common = append(common, whisk.KeyValue{Key: "description", Value: p.Description})
	}

	plan := &Plan{
		Conductor: whisk.Action{
			Namespace:   ns,
			Name:        conductorName,
			Exec:        &whisk.Exec{Kind: "blackbox", Image: opts.Image, Code: condCode},
			Annotations: append(whisk.KeyValues{{Key: "conductor", Value: true}, {Key: "wskx-role", Value: RoleConductor}}, common...),
			// No other default parameters: OpenWhisk lays them under every
			// conductor run's input, and they would leak into the job's final
			// result. The policy's defaults travel in the code instead.
			Parameters: slices.Clone(secret),
			Limits:     &whisk.Limits{Timeout: int(ConductorTimeout.Milliseconds()), Memory: ConductorMemory},
		},
		Step: whisk.Action{
			Namespace:   ns,
			Name:        stepName,
			Exec:        &whisk.Exec{Kind: "blackbox", Image: opts.Image, Code: stepCode},
			Annotations: append(whisk.KeyValues{{Key: "wskx-role", Value: RoleStep}}, common...),
			Parameters:  slices.Clone(secret),
			Limits:      &whisk.Limits{Timeout: int(p.Job.Timeout.Milliseconds()), Memory: p.Job.Memory},
		},
	}
	return plan, nil
}
