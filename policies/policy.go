package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Policy is a loaded, validated policy with its expressions compiled.
// Construct it with Load or Parse; the zero value is not usable.
type Policy struct {
	Name        string
	Description string
	Job         Job
	Checkpoint  Checkpoint
	Chain       Chain
	Storage     Storage
	// Params are default input parameters, overridden by an invocation's.
	// Parse leaves only what encoding/json produces in them (finite
	// float64, string, bool, nil, []any, map[string]any), which Document
	// relies on.
	Params map[string]any
	// Source is the file (or label) the policy was read from.
	Source string

	args   []template
	margin *vm.Program // nil when the margin is a literal
	cont   *vm.Program
	key    *vm.Program           // nil when keys are generated
	nodes  map[string]*yaml.Node // where each expression stands, for errors
	// derived are the retry waits worked out from job.timeout because the
	// source gave none; Document leaves them out (while unchanged) so that
	// a policy whose timeout is changed and documented again derives them
	// anew rather than carrying ones that no longer fit.
	derived Retries
}

// Job is the step: what runs and under which limits.
type Job struct {
	// Command is the program and its arguments as written; arguments may
	// hold ${expression} parts, evaluated per hop by Argv.
	Command []string
	Engine  string            // dmtcp, cooperative, none or auto
	Timeout time.Duration     // the step action's time limit
	Memory  int               // the step action's memory limit, MB
	Env     map[string]string // extra environment for the job
	// APIKey gives the job the activation's OpenWhisk API key
	// (__OW_API_KEY). Off by default: the job's environment is saved in
	// every DMTCP checkpoint image, and images live in blob storage.
	APIKey bool
	// Result is where the job's result is: "" for the last JSON line of
	// its stdout, otherwise a file path relative to its work directory.
	Result string
	// Dir is the parent of the job's fixed absolute paths.
	Dir string
}

// Checkpoint is the schedule. Either or both may be set; neither means
// the job is never checkpointed (engine none).
type Checkpoint struct {
	Deadline *Deadline
	Interval *Interval
}

// Deadline checkpoints the job once, Margin before the platform's deadline.
type Deadline struct {
	// Margin is a duration literal ("5s") or an expression of Env that
	// yields a duration.
	Margin string
}

// Interval checkpoints the job every Period while it runs; the newest
// whole checkpoint is the one a retry restores.
type Interval struct {
	Period time.Duration
}

// Chain is how hops follow each other.
type Chain struct {
	MaxHops        int
	MaxDuration    time.Duration
	Continue       string // boolean expression, checked before every new hop
	Retries        Retries
	IdempotencyKey string // string expression; "" generates a key per invocation
	LengthLimit    int    // the platform's composition component limit
	OnLengthLimit  string // continue or fail
}

// Retries is how a failed hop is tried again.
type Retries struct {
	Max        int
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// Storage is where checkpoints go.
type Storage struct {
	URL            string // file://, azblob://, s3:// or gs://
	Prefix         string // key prefix inside the bucket
	Compression    string // "" or zstd
	Checksum       string // sha256 or crc32c
	Encrypt        bool   // AES-256-GCM with the key from WSKX_ENCRYPTION_KEY
	Keep           int    // whole generations kept per job
	RetainFinished time.Duration
}

// Load reads a policy file (YAML or JSON). A relative program path in the
// command is taken relative to the policy file's folder.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	p, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if prog := p.Job.Command[0]; strings.Contains(prog, "/") && !filepath.IsAbs(prog) && !strings.Contains(prog, "${") {
		abs, err := filepath.Abs(filepath.Join(filepath.Dir(path), prog))
		if err != nil {
			return nil, fmt.Errorf("load policy: %w", err)
		}
		p.Job.Command[0] = abs
		p.args[0] = template{parts: []templatePart{{text: abs}}}
	}
	return p, nil
}

// Parse reads a policy from YAML or JSON (JSON is read as YAML, which
// keeps line and column numbers). source labels errors.
func Parse(data []byte, source string) (*Policy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, ErrorList{yamlError(source, err)}
	}
	if len(doc.Content) == 0 {
		return nil, ErrorList{{File: source, Msg: "empty policy; expected a mapping with at least job.command"}}
	}
	d := &decoder{file: source}
	p := &Policy{Source: source}
	p.decode(d, doc.Content[0])
	if len(d.errs) == 0 {
		p.compile(d)
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return p, nil
}

// yamlError turns the YAML library's syntax error ("yaml: line 3: ...")
// into a located Error.
func yamlError(source string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: source, Msg: msg}
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		e.Line, e.Column = line, 1
		e.Msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return e
}

func (p *Policy) decode(d *decoder, root *yaml.Node) {
	p.Job = Job{Engine: DefaultEngine, Timeout: DefaultTimeout, Memory: DefaultMemory, Dir: DefaultJobDir}
	p.Chain = Chain{
		MaxHops: DefaultMaxHops, MaxDuration: DefaultMaxDuration, Continue: DefaultContinue,
		Retries:     Retries{Max: DefaultRetries, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff},
		LengthLimit: DefaultLengthLimit, OnLengthLimit: DefaultOnLengthLimit,
	}
	p.Storage = Storage{URL: DefaultStorageURL, Checksum: DefaultChecksum, Keep: DefaultKeep, RetainFinished: DefaultRetainFinished}
	var jobNode, ckptNode, marginNode *yaml.Node
	// Where the chain's limits stand, for the checks across fields.
	var timeoutNode, lengthNode, maxRetriesNode, backoffNode, maxBackoffNode *yaml.Node
	d.nodes = map[string]*yaml.Node{}
	p.nodes = d.nodes
	hasCheckpoint := false

	d.mapping(root, "", map[string]func(*yaml.Node, string){
		"name": func(n *yaml.Node, path string) {
			if v, ok := d.str(n, path); ok {
				if !actionName.MatchString(v) {
					d.errorf(n, path, "expected an OpenWhisk action name (letters, digits, _ @ . -, not starting with a symbol), got %q", v)
				}
				p.Name = v
			}
		},
		"description": func(n *yaml.Node, path string) { p.Description, _ = d.str(n, path) },
		"params":      func(n *yaml.Node, path string) { p.Params = d.anyMap(n, path) },
		"job": func(n *yaml.Node, path string) {
			jobNode = n
			d.mapping(n, path, map[string]func(*yaml.Node, string){
				"command": func(n *yaml.Node, path string) { p.Job.Command = d.command(n, path) },
				"engine": func(n *yaml.Node, path string) {
					p.Job.Engine, _ = d.oneOf(n, path, EngineDMTCP, EngineCooperative, EngineNone, EngineAuto)
				},
				"timeout": func(n *yaml.Node, path string) {
					timeoutNode = n
					if v, ok := d.duration(n, path); ok {
						if v < MinTimeout || v > MaxTimeout {
							d.errorf(n, path, "expected a time limit from %s to %s (OpenWhisk's bounds), got %s", MinTimeout, MaxTimeout, n.Value)
						}
						p.Job.Timeout = v
					}
				},
				"memory": func(n *yaml.Node, path string) {
					if v, ok := d.integer(n, path); ok {
						if v < MinMemory || v > MaxMemory {
							d.errorf(n, path, "expected a memory limit in MB from %d to %d (OpenWhisk's bounds), got %d", MinMemory, MaxMemory, v)
						}
						p.Job.Memory = v
					}
				},
				"env":     func(n *yaml.Node, path string) { p.Job.Env = d.stringMap(n, path) },
				"api_key": func(n *yaml.Node, path string) { p.Job.APIKey, _ = d.boolean(n, path) },
				"result":  func(n *yaml.Node, path string) { p.Job.Result, _ = d.str(n, path) },
				"dir": func(n *yaml.Node, path string) {
					if v, ok := d.str(n, path); ok {
						if !filepath.IsAbs(v) {
							d.errorf(n, path, "expected an absolute path, got %q", v)
						}
						p.Job.Dir = filepath.Clean(v)
					}
				},
			})
		},
		"checkpoint": func(n *yaml.Node, path string) {
			ckptNode, hasCheckpoint = n, true
			d.mapping(n, path, map[string]func(*yaml.Node, string){
				"deadline": func(n *yaml.Node, path string) {
					p.Checkpoint.Deadline = &Deadline{Margin: DefaultMargin.String()}
					if isNull(n) {
						return
					}
					d.mapping(n, path, map[string]func(*yaml.Node, string){
						"margin": func(n *yaml.Node, path string) {
							if v, ok := d.scalarText(n, path); ok {
								p.Checkpoint.Deadline.Margin, marginNode = v, n
								p.nodes[path] = n
							}
						},
					})
				},
				"interval": func(n *yaml.Node, path string) {
					p.Checkpoint.Interval = &Interval{}
					d.mapping(n, path, map[string]func(*yaml.Node, string){
						"period": func(n *yaml.Node, path string) { p.Checkpoint.Interval.Period, _ = d.duration(n, path) },
					})
					if p.Checkpoint.Interval.Period == 0 && !d.hasErrorAt(path) {
						d.errorf(n, path+".period", "required: how often to checkpoint, such as 30s")
					}
				},
			})
		},
		"chain": func(n *yaml.Node, path string) {
			d.mapping(n, path, map[string]func(*yaml.Node, string){
				"max_hops":     func(n *yaml.Node, path string) { p.Chain.MaxHops, _ = d.positive(n, path) },
				"max_duration": func(n *yaml.Node, path string) { p.Chain.MaxDuration, _ = d.duration(n, path) },
				"continue": func(n *yaml.Node, path string) {
					p.Chain.Continue, _ = d.scalarText(n, path)
					p.nodes[path] = n
				},
				"idempotency_key": func(n *yaml.Node, path string) {
					p.Chain.IdempotencyKey, _ = d.str(n, path)
					p.nodes[path] = n
				},
				"length_limit": func(n *yaml.Node, path string) {
					lengthNode = n
					p.Chain.LengthLimit, _ = d.positive(n, path)
				},
				"on_length_limit": func(n *yaml.Node, path string) {
					p.Chain.OnLengthLimit, _ = d.oneOf(n, path, OnLimitContinue, OnLimitFail)
				},
				"retries": func(n *yaml.Node, path string) {
					d.mapping(n, path, map[string]func(*yaml.Node, string){
						"max": func(n *yaml.Node, path string) {
							maxRetriesNode = n
							if v, ok := d.integer(n, path); ok {
								if v < 0 {
									d.errorf(n, path, "expected 0 or more retries, got %d", v)
								}
								p.Chain.Retries.Max = v
							}
						},
						"backoff": func(n *yaml.Node, path string) {
							backoffNode = n
							p.Chain.Retries.Backoff, _ = d.duration(n, path)
						},
						"max_backoff": func(n *yaml.Node, path string) {
							maxBackoffNode = n
							p.Chain.Retries.MaxBackoff, _ = d.duration(n, path)
						},
					})
				},
			})
		},
		"storage": func(n *yaml.Node, path string) {
			d.mapping(n, path, map[string]func(*yaml.Node, string){
				"url": func(n *yaml.Node, path string) {
					if v, ok := d.str(n, path); ok {
						d.storageURL(n, path, v)
						p.Storage.URL = v
					}
				},
				"prefix": func(n *yaml.Node, path string) { p.Storage.Prefix, _ = d.str(n, path) },
				"compression": func(n *yaml.Node, path string) {
					if v, ok := d.oneOf(n, path, "none", "zstd"); ok && v == "zstd" {
						p.Storage.Compression = v
					}
				},
				"checksum": func(n *yaml.Node, path string) {
					if v, ok := d.oneOf(n, path, "sha256", "crc32c"); ok {
						p.Storage.Checksum = v
					}
				},
				"encrypt":         func(n *yaml.Node, path string) { p.Storage.Encrypt, _ = d.boolean(n, path) },
				"keep":            func(n *yaml.Node, path string) { p.Storage.Keep, _ = d.positive(n, path) },
				"retain_finished": func(n *yaml.Node, path string) { p.Storage.RetainFinished, _ = d.duration(n, path) },
			})
		},
	})

	if jobNode == nil {
		d.errorf(root, "job", "required: the job to run, with at least a command")
	} else if p.Job.Command == nil && !d.hasErrorAt("job.command") {
		d.errorf(jobNode, "job.command", "required: the program to run and its arguments, as a list")
	}
	if p.Job.Engine == EngineNone {
		if hasCheckpoint && (p.Checkpoint.Deadline != nil || p.Checkpoint.Interval != nil) {
			d.errorf(ckptNode, "checkpoint", "engine none cannot checkpoint; remove the checkpoint section or choose dmtcp or cooperative")
		}
	} else if !hasCheckpoint {
		p.Checkpoint.Deadline = &Deadline{Margin: DefaultMargin.String()}
	} else if p.Checkpoint.Deadline == nil && p.Checkpoint.Interval == nil {
		d.errorf(ckptNode, "checkpoint", "expected deadline, interval or both")
	}
	if dl := p.Checkpoint.Deadline; dl != nil {
		if m, err := time.ParseDuration(dl.Margin); err == nil {
			switch {
			case m <= 0:
				d.errorf(marginNode, "checkpoint.deadline.margin", "expected a duration greater than 0, got %s", dl.Margin)
			case m >= p.Job.Timeout:
				d.errorf(marginNode, "checkpoint.deadline.margin", "the margin (%s) must be smaller than the job's timeout (%s)", m, p.Job.Timeout)
			}
		}
	}
	if iv := p.Checkpoint.Interval; iv != nil && iv.Period >= p.Job.Timeout && iv.Period > 0 && p.Checkpoint.Deadline == nil {
		d.errorf(ckptNode, "checkpoint.interval.period", "a period (%s) not smaller than the timeout (%s) never checkpoints; add a deadline checkpoint or shorten it", iv.Period, p.Job.Timeout)
	}
	if !d.hasErrorAt("job.timeout") && !d.hasErrorAt("chain.retries") {
		p.backoffs(d, root, timeoutNode, backoffNode, maxBackoffNode)
	}
	if !d.hasErrorAt("chain.length_limit") && !d.hasErrorAt("chain.retries.max") && p.Chain.LengthLimit <= p.Chain.Retries.Max {
		at, path := first(lengthNode, "chain.length_limit", maxRetriesNode, "chain.retries.max", root)
		d.errorf(at, path, "chain.length_limit (%d) must be greater than chain.retries.max (%d): every attempt of one hop plus the next hop must fit in one invocation",
			p.Chain.LengthLimit, p.Chain.Retries.Max)
	}
}

// first returns the first of two nodes that is there, with its path, else
// the fallback with the first path.
func first(a *yaml.Node, pa string, b *yaml.Node, pb string, fallback *yaml.Node) (*yaml.Node, string) {
	switch {
	case a != nil:
		return a, pa
	case b != nil:
		return b, pb
	}
	return fallback, pa
}

// backoffs checks the retry waits against the time limit, and derives the
// ones not given. A retried step waits its backoff inside its activation:
// one as long as job.timeout leaves the job no time at all. A user who
// wrote neither should not get an error, so defaults that do not fit are
// cut to timeout/BackoffTimeoutShare, and never cross each other.
func (p *Policy) backoffs(d *decoder, root, timeoutNode, backoffNode, maxBackoffNode *yaml.Node) {
	r, timeout := &p.Chain.Retries, p.Job.Timeout
	timeoutIs := "the default job.timeout"
	if timeoutNode != nil {
		timeoutIs = "job.timeout"
	}
	for _, f := range []struct {
		node *yaml.Node
		name string
		v    time.Duration
	}{{backoffNode, "backoff", r.Backoff}, {maxBackoffNode, "max_backoff", r.MaxBackoff}} {
		if f.node != nil && f.v >= timeout {
			d.errorf(f.node, "chain.retries."+f.name, "the wait (%s) must be shorter than %s (%s): a retried step waits it inside its own activation",
				f.v, timeoutIs, timeout)
		}
	}
	if backoffNode == nil {
		r.Backoff = DefaultBackoff
		if r.Backoff >= timeout {
			r.Backoff = timeout / BackoffTimeoutShare
		}
		if maxBackoffNode != nil {
			r.Backoff = min(r.Backoff, r.MaxBackoff)
		}
		p.derived.Backoff = r.Backoff
	}
	if maxBackoffNode == nil {
		r.MaxBackoff = DefaultMaxBackoff
		if r.MaxBackoff >= timeout {
			r.MaxBackoff = timeout / BackoffTimeoutShare
		}
		r.MaxBackoff = max(r.MaxBackoff, r.Backoff)
		p.derived.MaxBackoff = r.MaxBackoff
	}
	if r.MaxBackoff < r.Backoff {
		at, _ := first(maxBackoffNode, "", backoffNode, "", root)
		d.errorf(at, "chain.retries.max_backoff", "must not be smaller than backoff (%s)", r.Backoff)
	}
}

func (d *decoder) hasErrorAt(prefix string) bool {
	for _, e := range d.errs {
		if strings.HasPrefix(e.Path, prefix) {
			return true
		}
	}
	return false
}

// command reads the program and its arguments: a list, or one string
// split at spaces for the simple case.
func (d *decoder) command(n *yaml.Node, path string) []string {
	var out []string
	switch n.Kind {
	case yaml.SequenceNode:
		for i, e := range n.Content {
			d.nodes[index(path, i)] = e
			if s, ok := d.scalarText(e, index(path, i)); ok {
				out = append(out, s)
			}
		}
	case yaml.ScalarNode:
		if s, ok := d.str(n, path); ok {
			out = strings.Fields(s)
		}
	default:
		d.errorf(n, path, "expected a list such as [./count, \"${params.n}\"], got %s", describe(n))
		return nil
	}
	if len(out) == 0 && !d.hasErrorAt(path) {
		d.errorf(n, path, "expected at least the program to run")
		return nil
	}
	return out
}

// actionName is OpenWhisk's rule for entity names, less the spaces it
// allows, which nobody wants in a CLI argument.
var actionName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_@.-]*$`)

// Storage schemes wskx opens.
var storageSchemes = []string{"file", "azblob", "s3", "gs"}

func (d *decoder) storageURL(n *yaml.Node, path, raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		d.errorf(n, path, "expected a storage URL such as file:///var/wskx or s3://bucket: %v", err)
		return
	}
	switch u.Scheme {
	case "file":
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			d.errorf(n, path, "expected an absolute file URL such as file:///var/wskx, got %q", raw)
		}
	case "azblob", "s3", "gs":
		if u.Host == "" {
			d.errorf(n, path, "expected %s://BUCKET, got %q", u.Scheme, raw)
		}
		if u.User != nil {
			d.errorf(n, path, "credentials do not belong in the policy; give them in the environment")
		}
	default:
		d.errorf(n, path, "unknown storage scheme %q; expected one of %s", u.Scheme, strings.Join(storageSchemes, ", "))
	}
}

// Document is the policy as a JSON document that Parse reads back to an
// equal policy. It travels in the action code of the deployed actions.
func (p *Policy) Document() json.RawMessage {
	retries := map[string]any{"max": p.Chain.Retries.Max}
	if r := p.Chain.Retries; r.Backoff != p.derived.Backoff {
		retries["backoff"] = r.Backoff.String()
	}
	if r := p.Chain.Retries; r.MaxBackoff != p.derived.MaxBackoff {
		retries["max_backoff"] = r.MaxBackoff.String()
	}
	doc := map[string]any{
		"job": map[string]any{
			"command": p.Job.Command, "engine": p.Job.Engine, "timeout": p.Job.Timeout.String(),
			"memory": p.Job.Memory, "dir": p.Job.Dir,
		},
		"chain": map[string]any{
			"max_hops": p.Chain.MaxHops, "max_duration": p.Chain.MaxDuration.String(),
			"continue": p.Chain.Continue, "length_limit": p.Chain.LengthLimit,
			"on_length_limit": p.Chain.OnLengthLimit,
			"retries":         retries,
		},
		"storage": map[string]any{
			"url": p.Storage.URL, "keep": p.Storage.Keep, "encrypt": p.Storage.Encrypt,
			"retain_finished": p.Storage.RetainFinished.String(),
		},
	}
	job := doc["job"].(map[string]any)
	if p.Name != "" {
		// Parse leaves it empty when the source has none (Load names it).
		doc["name"] = p.Name
	}
	if p.Description != "" {
		doc["description"] = p.Description
	}
	if p.Params != nil {
		doc["params"] = p.Params
	}
	if p.Job.Env != nil {
		job["env"] = p.Job.Env
	}
	if p.Job.Result != "" {
		job["result"] = p.Job.Result
	}
	if p.Job.APIKey {
		job["api_key"] = true
	}
	if p.Chain.IdempotencyKey != "" {
		doc["chain"].(map[string]any)["idempotency_key"] = p.Chain.IdempotencyKey
	}
	st := doc["storage"].(map[string]any)
	if p.Storage.Prefix != "" {
		st["prefix"] = p.Storage.Prefix
	}
	if p.Storage.Compression != "" {
		st["compression"] = p.Storage.Compression
	}
	if p.Storage.Checksum != DefaultChecksum {
		st["checksum"] = p.Storage.Checksum
	}
	if p.Job.Engine != EngineNone {
		ck := map[string]any{}
		if p.Checkpoint.Deadline != nil {
			ck["deadline"] = map[string]any{"margin": p.Checkpoint.Deadline.Margin}
		}
		if p.Checkpoint.Interval != nil {
			ck["interval"] = map[string]any{"period": p.Checkpoint.Interval.Period.String()}
		}
		doc["checkpoint"] = ck
	}
	b, err := json.Marshal(doc)
	if err != nil {
		// Unreachable for a policy from Parse: every field above is a
		// string, int, bool or map of strings, and the decoder refuses
		// parameters JSON cannot carry (FuzzParse checks it). Only code that
		// put some other value in Params by hand gets here.
		panic(fmt.Sprintf("policies: marshal document: %v", err))
	}
	return yamlSafe(b)
}

// yamlSafe escapes the characters that encoding/json leaves raw but the
// YAML reader Parse uses refuses (DEL, C1 controls, U+FFFE, U+FFFF) or
// reads as a line break inside a string (NEL), and the byte order mark.
// They can only stand inside JSON strings, where \uXXXX means the same.
func yamlSafe(b []byte) []byte {
	unsafe := func(r rune) bool {
		return (r >= 0x7f && r <= 0x9f) || r == 0xfeff || r == 0xfffe || r == 0xffff
	}
	if !bytes.ContainsFunc(b, unsafe) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for _, r := range string(b) {
		if unsafe(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}
