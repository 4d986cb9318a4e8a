package composer

import (
	"fmt"
	"maps"
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

// Plan is a compiled workflow: the actions to deploy, one conductor, one
// step per job node, and the ordinary actions the file defines.
type Plan struct {
	Conductor whisk.Action   `json:"conductor"`
	Steps     []whisk.Action `json:"steps"`
	Actions   []whisk.Action `json:"actions,omitempty"`
}

// StepName is the step action's name for a conductor named name.
func StepName(name string) string { return name + "-step" }

// Compile turns a single-job policy into its conductor and step actions.
func Compile(p *policies.Policy, opts Options) (*Plan, error) {
	return CompileWorkflow(policies.SingleJob(p), opts)
}

// CompileWorkflow turns a workflow into its conductor action, whose code
// is the whole workflow as one program, and a step action per job node.
// A single-job policy's step is NAME-step; a workflow's steps are
// NAME-step-JOB, JOB the job's policy name (numbered when two are the
// same), so that a deployment's names read as its file does.
func CompileWorkflow(w *policies.Workflow, opts Options) (*Plan, error) {
	if opts.Namespace == "" {
		opts.Namespace = "_"
	}
	if opts.Name == "" {
		opts.Name = w.Name
	}
	if opts.Name == "" {
		return nil, fmt.Errorf("compile: the workflow has no name and none was given")
	}
	if opts.Image == "" {
		opts.Image = DefaultImage
	}
	if opts.Baseline != "" && !w.Single {
		return nil, fmt.Errorf("compile: the %s baseline is a single job's, and %s is a workflow", opts.Baseline, opts.Name)
	}
	ns := strings.Trim(opts.Namespace, "/")
	fq := func(name string) string { return "/" + ns + "/" + name }

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
		{Key: "wskx-policy", Value: w.Name},
		// Both roles call the API: the conductor to hand a workflow to a new
		// invocation at the length limit, the step in the self-invoke
		// baseline. OpenWhisk withholds the key unless this is set.
		{Key: "provide-api-key", Value: true},
	}
	if w.Description != "" {
		common = append(common, whisk.KeyValue{Key: "description", Value: w.Description})
	}

	names := stepNames(w, opts.Name)
	plan := &Plan{}
	for _, a := range w.Actions {
		act := whisk.Action{
			Namespace:   ns,
			Name:        a.Name,
			Exec:        &whisk.Exec{Kind: a.Kind, Code: a.Code},
			Annotations: whisk.KeyValues{{Key: "wskx-workflow", Value: opts.Name}},
		}
		for _, k := range slices.Sorted(maps.Keys(a.Params)) {
			act.Parameters = append(act.Parameters, whisk.KeyValue{Key: k, Value: a.Params[k]})
		}
		if a.Timeout > 0 || a.Memory > 0 {
			act.Limits = &whisk.Limits{Timeout: int(a.Timeout.Milliseconds()), Memory: a.Memory}
		}
		plan.Actions = append(plan.Actions, act)
	}
	for _, n := range w.Jobs() {
		p := n.Job
		code, err := marshal(Code{Role: RoleStep, Policy: p.Document(), Conductor: fq(opts.Name), Baseline: opts.Baseline})
		if err != nil {
			return nil, fmt.Errorf("compile: %w", err)
		}
		plan.Steps = append(plan.Steps, whisk.Action{
			Namespace:   ns,
			Name:        names[n],
			Exec:        &whisk.Exec{Kind: "blackbox", Image: opts.Image, Code: code},
			Annotations: append(whisk.KeyValues{{Key: "wskx-role", Value: RoleStep}, {Key: "wskx-node", Value: n.Path}}, common...),
			Parameters:  slices.Clone(secret),
			Limits:      &whisk.Limits{Timeout: int(p.Job.Timeout.Milliseconds()), Memory: p.Job.Memory},
		})
	}
	wc, err := workflowCode(w, func(n *policies.Node) string { return fq(names[n]) })
	if err != nil {
		return nil, err
	}
	condCode, err := marshal(Code{Role: RoleConductor, Workflow: &wc})
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	plan.Conductor = whisk.Action{
		Namespace:   ns,
		Name:        opts.Name,
		Exec:        &whisk.Exec{Kind: "blackbox", Image: opts.Image, Code: condCode},
		Annotations: append(whisk.KeyValues{{Key: "conductor", Value: true}, {Key: "wskx-role", Value: RoleConductor}}, common...),
		// No other default parameters: OpenWhisk lays them under every
		// conductor run's input, and they would leak into the final
		// result. The workflow's defaults travel in the code instead.
		Parameters: slices.Clone(secret),
		Limits:     &whisk.Limits{Timeout: int(ConductorTimeout.Milliseconds()), Memory: ConductorMemory},
	}
	return plan, nil
}

// stepNames names each job node's step action.
func stepNames(w *policies.Workflow, conductor string) map[*policies.Node]string {
	out := map[*policies.Node]string{}
	if w.Single {
		out[w.Root] = StepName(conductor)
		return out
	}
	used := map[string]int{}
	for _, n := range w.Jobs() {
		base := StepName(conductor) + "-" + n.Job.Name
		used[base]++
		name := base
		if c := used[base]; c > 1 {
			name = fmt.Sprintf("%s-%d", base, c)
		}
		out[n] = name
	}
	return out
}
