package policies

import (
	"encoding/json"
	"fmt"
	"time"
)

// Overrides are the settings a command, a test or an experiment changes in
// a loaded policy. A zero field keeps the policy's own.
type Overrides struct {
	Name     string
	Engine   string
	Timeout  time.Duration
	Memory   int
	Margin   string        // checkpoint.deadline.margin, a duration or an expression
	Interval time.Duration // checkpoint.interval.period
	// NoCheckpoint removes the checkpoint schedule (with engine none: the
	// job runs start to end in one activation).
	NoCheckpoint  bool
	Dir           string // job.dir
	StorageURL    string
	StoragePrefix string
	// MaxRetryWait caps both retry waits, for a short time limit.
	MaxRetryWait time.Duration
	// Retries replaces chain.retries (all three fields as given).
	Retries        *Retries
	IdempotencyKey string
	LengthLimit    int
	Env            map[string]string // job.env, replaced
	// Join is a workflow's default join (JoinWait or JoinHandoff); a
	// workflow's storage follows StorageURL and StoragePrefix too.
	Join string
}

// With returns a new policy: p with o applied, checked as a file would be
// (label names it in errors). p is not changed.
func (p *Policy) With(o Overrides, label string) (*Policy, error) {
	var doc map[string]any
	if err := json.Unmarshal(p.Document(), &doc); err != nil {
		return nil, fmt.Errorf("override: %w", err)
	}
	section := func(name string) map[string]any {
		m, ok := doc[name].(map[string]any)
		if !ok {
			m = map[string]any{}
			doc[name] = m
		}
		return m
	}
	job, storage := section("job"), section("storage")
	set := func(m map[string]any, key string, v any, given bool) {
		if given {
			m[key] = v
		}
	}
	set(doc, "name", o.Name, o.Name != "")
	set(job, "engine", o.Engine, o.Engine != "")
	set(job, "timeout", o.Timeout.String(), o.Timeout > 0)
	set(job, "memory", o.Memory, o.Memory > 0)
	set(job, "dir", o.Dir, o.Dir != "")
	set(storage, "url", o.StorageURL, o.StorageURL != "")
	set(storage, "prefix", o.StoragePrefix, o.StoragePrefix != "")
	if o.NoCheckpoint {
		delete(doc, "checkpoint")
	} else if o.Margin != "" || o.Interval > 0 {
		ck := section("checkpoint")
		if o.Margin != "" {
			ck["deadline"] = map[string]any{"margin": o.Margin}
		}
		if o.Interval > 0 {
			ck["interval"] = map[string]any{"period": o.Interval.String()}
		}
	}
	if o.MaxRetryWait > 0 {
		retries := section("chain")["retries"].(map[string]any)
		r := p.Chain.Retries
		retries["backoff"] = min(r.Backoff, o.MaxRetryWait).String()
		retries["max_backoff"] = min(r.MaxBackoff, o.MaxRetryWait).String()
	}
	chain := section("chain")
	if r := o.Retries; r != nil {
		chain["retries"] = map[string]any{"max": r.Max, "backoff": r.Backoff.String(), "max_backoff": r.MaxBackoff.String()}
	}
	set(chain, "idempotency_key", o.IdempotencyKey, o.IdempotencyKey != "")
	set(chain, "length_limit", o.LengthLimit, o.LengthLimit > 0)
	set(job, "env", o.Env, o.Env != nil)
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("override: %w", err)
	}
	q, err := Parse(b, label)
	if list, ok := err.(ErrorList); ok {
		// Positions in the generated document mean nothing to a reader.
		for _, e := range list {
			e.Line, e.Column = 0, 0
		}
		return nil, list
	}
	if err != nil {
		return nil, err
	}
	q.Source = p.Source
	return q, nil
}

// With returns a new workflow whose every job has o applied (its Name
// aside: each job keeps its own), and whose own join and storage follow
// o's.
func (w *Workflow) With(o Overrides, label string) (*Workflow, error) {
	o.Name = ""
	out := *w
	switch o.Join {
	case "":
	case JoinWait, JoinHandoff:
		out.Join = o.Join
	default:
		return nil, ErrorList{{File: label, Path: "join", Msg: fmt.Sprintf("expected one of %s, %s, got %q", JoinWait, JoinHandoff, o.Join)}}
	}
	if o.StorageURL != "" {
		out.Storage.URL = o.StorageURL
	}
	if o.StoragePrefix != "" {
		out.Storage.Prefix = o.StoragePrefix
	}
	var errs ErrorList
	out.Root = w.Root.clone(func(n *Node) {
		if n.Kind != KindJob || n.Job == nil {
			return
		}
		q, err := n.Job.With(o, label)
		if err != nil {
			if l, ok := err.(ErrorList); ok {
				errs = append(errs, l...)
			} else {
				errs = append(errs, &Error{File: label, Path: n.Path, Msg: err.Error()})
			}
			return
		}
		n.Job = q
	})
	if len(errs) > 0 {
		return nil, errs
	}
	return &out, nil
}

// clone copies the tree, calling edit on every copied node.
func (n *Node) clone(edit func(*Node)) *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Components = nil
	for _, k := range n.Components {
		c.Components = append(c.Components, k.clone(edit))
	}
	c.Test, c.Then, c.Else = n.Test.clone(edit), n.Then.clone(edit), n.Else.clone(edit)
	c.Body, c.Handler = n.Body.clone(edit), n.Handler.clone(edit)
	edit(&c)
	return &c
}
