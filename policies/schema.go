package policies

import (
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// field is one entry of a policy file's schema: how it is read from the
// file and how Document writes it back, side by side, so that the two
// cannot drift apart. A section has sub-fields instead of read and write.
type field struct {
	name string
	// read decodes the field's value node into the policy.
	read func(r *reader, n *yaml.Node, path string)
	// write is the field's value in the document, and whether it is
	// written at all (a default that Parse supplies is left out).
	write func(p *Policy) (any, bool)

	sub []field
	// enter runs when the section is in the file, before its fields; a
	// nullable section may be written as nothing (deadline: with the
	// default margin).
	enter    func(r *reader, n *yaml.Node)
	nullable bool
	// present says whether Document writes the section at all.
	present func(p *Policy) bool
}

// reader decodes a file against the schema, noting where every field
// stands for the checks across fields.
type reader struct {
	d  *decoder
	p  *Policy
	at map[string]*yaml.Node
}

// always writes a field whatever its value.
func always(v any) (any, bool) { return v, true }

// unless writes a field unless it has its zero value.
func unless[T comparable](v T) (any, bool) {
	var zero T
	return v, v != zero
}

// schema is the policy file, written once.
var schema = []field{
	{name: "name", read: func(r *reader, n *yaml.Node, path string) {
		if v, ok := r.d.str(n, path); ok {
			if !actionName.MatchString(v) {
				r.d.errorf(n, path, "expected an OpenWhisk action name (letters, digits, _ @ . -, not starting with a symbol), got %q", v)
			}
			r.p.Name = v
		}
		// Parse leaves it empty when the source has none (Load names it).
	}, write: func(p *Policy) (any, bool) { return unless(p.Name) }},
	{name: "description", read: func(r *reader, n *yaml.Node, path string) { r.p.Description, _ = r.d.str(n, path) },
		write: func(p *Policy) (any, bool) { return unless(p.Description) }},
	{name: "params", read: func(r *reader, n *yaml.Node, path string) { r.p.Params = r.d.anyMap(n, path) },
		write: func(p *Policy) (any, bool) { return p.Params, p.Params != nil }},
	{name: "job", present: func(*Policy) bool { return true }, sub: []field{
		{name: "command", read: func(r *reader, n *yaml.Node, path string) { r.p.Job.Command = r.d.command(n, path) },
			write: func(p *Policy) (any, bool) { return always(p.Job.Command) }},
		{name: "engine", read: func(r *reader, n *yaml.Node, path string) {
			r.p.Job.Engine, _ = r.d.oneOf(n, path, EngineDMTCP, EngineCooperative, EngineNone, EngineAuto)
		}, write: func(p *Policy) (any, bool) { return always(p.Job.Engine) }},
		{name: "timeout", read: func(r *reader, n *yaml.Node, path string) {
			if v, ok := r.d.duration(n, path); ok {
				if v < MinTimeout || v > MaxTimeout {
					r.d.errorf(n, path, "expected a time limit from %s to %s (OpenWhisk's bounds), got %s", MinTimeout, MaxTimeout, n.Value)
				}
				r.p.Job.Timeout = v
			}
		}, write: func(p *Policy) (any, bool) { return always(p.Job.Timeout.String()) }},
		{name: "memory", read: func(r *reader, n *yaml.Node, path string) {
			if v, ok := r.d.integer(n, path); ok {
				if v < MinMemory || v > MaxMemory {
					r.d.errorf(n, path, "expected a memory limit in MB from %d to %d (OpenWhisk's bounds), got %d", MinMemory, MaxMemory, v)
				}
				r.p.Job.Memory = v
			}
		}, write: func(p *Policy) (any, bool) { return always(p.Job.Memory) }},
		{name: "env", read: func(r *reader, n *yaml.Node, path string) { r.p.Job.Env = r.d.stringMap(n, path) },
			write: func(p *Policy) (any, bool) { return p.Job.Env, p.Job.Env != nil }},
		{name: "api_key", read: func(r *reader, n *yaml.Node, path string) { r.p.Job.APIKey, _ = r.d.boolean(n, path) },
			write: func(p *Policy) (any, bool) { return unless(p.Job.APIKey) }},
		{name: "result", read: func(r *reader, n *yaml.Node, path string) { r.p.Job.Result, _ = r.d.str(n, path) },
			write: func(p *Policy) (any, bool) { return unless(p.Job.Result) }},
		{name: "dir", read: func(r *reader, n *yaml.Node, path string) {
			if v, ok := r.d.str(n, path); ok {
				if !filepath.IsAbs(v) {
					r.d.errorf(n, path, "expected an absolute path, got %q", v)
				}
				r.p.Job.Dir = filepath.Clean(v)
			}
		}, write: func(p *Policy) (any, bool) { return always(p.Job.Dir) }},
	}},
	{name: "checkpoint", present: func(p *Policy) bool { return p.Job.Engine != EngineNone }, sub: []field{
		{name: "deadline", nullable: true, enter: func(r *reader, _ *yaml.Node) {
			r.p.Checkpoint.Deadline = &Deadline{Margin: DefaultMargin.String()}
		}, present: func(p *Policy) bool { return p.Checkpoint.Deadline != nil }, sub: []field{
			{name: "margin", read: func(r *reader, n *yaml.Node, path string) {
				if v, ok := r.d.scalarText(n, path); ok {
					r.p.Checkpoint.Deadline.Margin = v
					r.p.nodes[path] = n
				}
			}, write: func(p *Policy) (any, bool) { return always(p.Checkpoint.Deadline.Margin) }},
		}},
		{name: "interval", enter: func(r *reader, _ *yaml.Node) { r.p.Checkpoint.Interval = &Interval{} },
			present: func(p *Policy) bool { return p.Checkpoint.Interval != nil }, sub: []field{
				{name: "period", read: func(r *reader, n *yaml.Node, path string) {
					r.p.Checkpoint.Interval.Period, _ = r.d.duration(n, path)
				}, write: func(p *Policy) (any, bool) { return always(p.Checkpoint.Interval.Period.String()) }},
			}},
	}},
	{name: "chain", present: func(*Policy) bool { return true }, sub: []field{
		{name: "max_hops", read: func(r *reader, n *yaml.Node, path string) { r.p.Chain.MaxHops, _ = r.d.positive(n, path) },
			write: func(p *Policy) (any, bool) { return always(p.Chain.MaxHops) }},
		{name: "max_duration", read: func(r *reader, n *yaml.Node, path string) { r.p.Chain.MaxDuration, _ = r.d.duration(n, path) },
			write: func(p *Policy) (any, bool) { return always(p.Chain.MaxDuration.String()) }},
		{name: "continue", read: func(r *reader, n *yaml.Node, path string) {
			r.p.Chain.Continue, _ = r.d.scalarText(n, path)
			r.p.nodes[path] = n
		}, write: func(p *Policy) (any, bool) { return always(p.Chain.Continue) }},
		{name: "idempotency_key", read: func(r *reader, n *yaml.Node, path string) {
			r.p.Chain.IdempotencyKey, _ = r.d.str(n, path)
			r.p.nodes[path] = n
		}, write: func(p *Policy) (any, bool) { return unless(p.Chain.IdempotencyKey) }},
		{name: "length_limit", read: func(r *reader, n *yaml.Node, path string) { r.p.Chain.LengthLimit, _ = r.d.positive(n, path) },
			write: func(p *Policy) (any, bool) { return always(p.Chain.LengthLimit) }},
		{name: "on_length_limit", read: func(r *reader, n *yaml.Node, path string) {
			r.p.Chain.OnLengthLimit, _ = r.d.oneOf(n, path, OnLimitContinue, OnLimitFail)
		}, write: func(p *Policy) (any, bool) { return always(p.Chain.OnLengthLimit) }},
		{name: "retries", present: func(*Policy) bool { return true }, sub: []field{
			{name: "max", read: func(r *reader, n *yaml.Node, path string) {
				if v, ok := r.d.integer(n, path); ok {
					if v < 0 {
						r.d.errorf(n, path, "expected 0 or more retries, got %d", v)
					}
					r.p.Chain.Retries.Max = v
				}
			}, write: func(p *Policy) (any, bool) { return always(p.Chain.Retries.Max) }},
			// Waits derived from the timeout are left out (while unchanged), so
			// that a policy whose timeout changes derives them anew.
			{name: "backoff", read: func(r *reader, n *yaml.Node, path string) { r.p.Chain.Retries.Backoff, _ = r.d.duration(n, path) },
				write: func(p *Policy) (any, bool) {
					return p.Chain.Retries.Backoff.String(), p.Chain.Retries.Backoff != p.derived.Backoff
				}},
			{name: "max_backoff", read: func(r *reader, n *yaml.Node, path string) { r.p.Chain.Retries.MaxBackoff, _ = r.d.duration(n, path) },
				write: func(p *Policy) (any, bool) {
					return p.Chain.Retries.MaxBackoff.String(), p.Chain.Retries.MaxBackoff != p.derived.MaxBackoff
				}},
		}},
	}},
	{name: "storage", present: func(*Policy) bool { return true }, sub: storageFields},
}

// storageFields are the storage section's, a workflow's as well as a
// job's.
var storageFields = []field{
	{name: "url", read: func(r *reader, n *yaml.Node, path string) {
		if v, ok := r.d.str(n, path); ok {
			r.d.storageURL(n, path, v)
			r.p.Storage.URL = v
		}
	}, write: func(p *Policy) (any, bool) { return always(p.Storage.URL) }},
	{name: "prefix", read: func(r *reader, n *yaml.Node, path string) { r.p.Storage.Prefix, _ = r.d.str(n, path) },
		write: func(p *Policy) (any, bool) { return unless(p.Storage.Prefix) }},
	{name: "compression", read: func(r *reader, n *yaml.Node, path string) {
		if v, ok := r.d.oneOf(n, path, "none", "zstd"); ok && v == "zstd" {
			r.p.Storage.Compression = v
		}
	}, write: func(p *Policy) (any, bool) { return unless(p.Storage.Compression) }},
	{name: "checksum", read: func(r *reader, n *yaml.Node, path string) {
		if v, ok := r.d.oneOf(n, path, "sha256", "crc32c"); ok {
			r.p.Storage.Checksum = v
		}
	}, write: func(p *Policy) (any, bool) { return p.Storage.Checksum, p.Storage.Checksum != DefaultChecksum }},
	{name: "encrypt", read: func(r *reader, n *yaml.Node, path string) { r.p.Storage.Encrypt, _ = r.d.boolean(n, path) },
		write: func(p *Policy) (any, bool) { return always(p.Storage.Encrypt) }},
	{name: "keep", read: func(r *reader, n *yaml.Node, path string) { r.p.Storage.Keep, _ = r.d.positive(n, path) },
		write: func(p *Policy) (any, bool) { return always(p.Storage.Keep) }},
	{name: "retain_finished", read: func(r *reader, n *yaml.Node, path string) {
		r.p.Storage.RetainFinished, _ = r.d.duration(n, path)
	}, write: func(p *Policy) (any, bool) { return always(p.Storage.RetainFinished.String()) }},
}

// read decodes node n as the fields of a section.
func (r *reader) read(fields []field, n *yaml.Node, path string) {
	handlers := make(map[string]func(*yaml.Node, string), len(fields))
	for _, f := range fields {
		handlers[f.name] = func(v *yaml.Node, at string) {
			r.at[at] = v
			if f.sub == nil {
				f.read(r, v, at)
				return
			}
			if f.enter != nil {
				f.enter(r, v)
			}
			if f.nullable && isNull(v) {
				return
			}
			r.read(f.sub, v, at)
		}
	}
	r.d.mapping(n, path, handlers)
}

// write is the document of a section's fields.
func write(p *Policy, fields []field) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		if f.sub != nil {
			if f.present == nil || f.present(p) {
				out[f.name] = write(p, f.sub)
			}
			continue
		}
		if v, ok := f.write(p); ok {
			out[f.name] = v
		}
	}
	return out
}
