package composer

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/program"
)

// Flow is a conductor's workflow, compiled once at /init and run for
// every conductor activation: the program, its jobs' policies and step
// actions, and the workflow's own settings.
type Flow struct {
	Name          string
	Single        bool // a single-job policy: the workflow's key is the job's
	Params        map[string]any
	LengthLimit   int
	OnLengthLimit string
	Join          string           // fan-outs' join unless the node says
	Storage       policies.Storage // where fan-outs' branches leave their results

	key     *policies.KeyExpr
	machine *program.Machine
	jobs    []flowJob
}

type flowJob struct {
	path   string
	step   string // the step action's fully qualified name
	policy *policies.Policy
}

// WorkflowCode is the conductor's part of its /init code: the workflow's
// settings and its lowered program, whose jobs carry their policies.
type WorkflowCode struct {
	Name           string          `json:"name"`
	Single         bool            `json:"single,omitempty"`
	Params         map[string]any  `json:"params,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	LengthLimit    int             `json:"length_limit"`
	OnLengthLimit  string          `json:"on_length_limit"`
	Join           string          `json:"join,omitempty"`
	Storage        *StorageCode    `json:"storage,omitempty"`
	Program        json.RawMessage `json:"program"`
}

// StorageCode is a workflow's storage in its code.
type StorageCode struct {
	URL         string `json:"url"`
	Prefix      string `json:"prefix,omitempty"`
	Compression string `json:"compression,omitempty"`
	Checksum    string `json:"checksum,omitempty"`
	Encrypt     bool   `json:"encrypt,omitempty"`
}

// NewFlow compiles a conductor's workflow code; opts go to its program.
func NewFlow(c WorkflowCode, opts ...program.Option) (*Flow, error) {
	prog, err := program.Decode(c.Program)
	if err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	m, err := program.Load(prog, opts...)
	if err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	f := &Flow{Name: c.Name, Single: c.Single, Params: c.Params, LengthLimit: c.LengthLimit, OnLengthLimit: c.OnLengthLimit, Join: c.Join, machine: m}
	if f.Join == "" {
		f.Join = policies.JoinWait
	}
	f.Storage = policies.Storage{URL: policies.DefaultStorageURL, Checksum: policies.DefaultChecksum, Keep: policies.DefaultKeep}
	if s := c.Storage; s != nil {
		f.Storage.URL, f.Storage.Prefix, f.Storage.Compression, f.Storage.Encrypt = s.URL, s.Prefix, s.Compression, s.Encrypt
		if s.Checksum != "" {
			f.Storage.Checksum = s.Checksum
		}
	}
	if f.LengthLimit <= 0 {
		f.LengthLimit = policies.DefaultLengthLimit
	}
	if f.OnLengthLimit == "" {
		f.OnLengthLimit = policies.DefaultOnLengthLimit
	}
	for i, j := range prog.Jobs {
		p, err := policies.Parse(j.Policy, fmt.Sprintf("<job %d of %s>", i, c.Name))
		if err != nil {
			return nil, fmt.Errorf("flow: %w", err)
		}
		f.jobs = append(f.jobs, flowJob{path: j.Path, step: j.Step, policy: p})
	}
	if f.Single && len(f.jobs) != 1 {
		return nil, fmt.Errorf("flow: a single-job workflow has %d jobs", len(f.jobs))
	}
	if !f.Single {
		if f.key, err = policies.CompileKey(c.IdempotencyKey, c.Params); err != nil {
			return nil, fmt.Errorf("flow: idempotency key: %w", err)
		}
	}
	return f, nil
}

// SingleFlow is the flow of one job: the conductor of a single-job policy
// whose step action is step.
func SingleFlow(p *policies.Policy, step string) (*Flow, error) {
	c, err := workflowCode(policies.SingleJob(p), func(*policies.Node) string { return step })
	if err != nil {
		return nil, err
	}
	return NewFlow(c)
}

// workflowCode lowers a workflow to its conductor code.
func workflowCode(w *policies.Workflow, step func(*policies.Node) string) (WorkflowCode, error) {
	prog, err := program.Lower(w.Root, func(n *policies.Node) (string, json.RawMessage) {
		return step(n), n.Job.Document()
	})
	if err != nil {
		return WorkflowCode{}, fmt.Errorf("compile: %w", err)
	}
	raw, err := program.Encode(prog)
	if err != nil {
		return WorkflowCode{}, fmt.Errorf("compile: %w", err)
	}
	wc := WorkflowCode{
		Name: w.Name, Single: w.Single, Params: w.Params, IdempotencyKey: w.IdempotencyKey,
		LengthLimit: w.LengthLimit, OnLengthLimit: w.OnLengthLimit, Join: w.Join, Program: raw,
	}
	if s := w.Storage; s.URL != "" {
		wc.Storage = &StorageCode{URL: s.URL, Prefix: s.Prefix, Compression: s.Compression, Checksum: s.Checksum, Encrypt: s.Encrypt}
	}
	return wc, nil
}

// key is the workflow's idempotency key for an invocation's parameters
// ("" when generated).
func (f *Flow) keyOf(params map[string]any) (string, error) {
	if f.Single {
		p := f.jobs[0].policy
		return p.IdempotencyKey(policies.Env{Hop: 1, Attempt: 1, Timeout: p.Job.Timeout, Params: params})
	}
	return f.key.Eval(params)
}

// inFlight is how long a sealed mid-workflow state is good for: the
// component it waits for ends within its time limit (a job's step also
// waits its backoff), and the controller waits a minute past that.
func (f *Flow) inFlight(st carried) time.Duration {
	if st.Job != nil && st.Job.Node < len(f.jobs) {
		p := f.jobs[st.Job.Node].policy
		return p.Job.Timeout + p.Chain.Retries.MaxBackoff + stateSlack
	}
	return policies.MaxTimeout + stateSlack
}
