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
	d.nodes = map[string]*yaml.Node{}
	p.nodes = d.nodes
	r := &reader{d: d, p: p, at: map[string]*yaml.Node{}}
	r.read(schema, root, "")
	// Where the fields stand, for the checks across them.
	jobNode, ckptNode, marginNode := r.at["job"], r.at["checkpoint"], r.at["checkpoint.deadline.margin"]
	timeoutNode, lengthNode, maxRetriesNode := r.at["job.timeout"], r.at["chain.length_limit"], r.at["chain.retries.max"]
	backoffNode, maxBackoffNode := r.at["chain.retries.backoff"], r.at["chain.retries.max_backoff"]
	hasCheckpoint := ckptNode != nil
	if iv := p.Checkpoint.Interval; iv != nil && iv.Period == 0 && !d.hasErrorAt("checkpoint.interval") {
		d.errorf(r.at["checkpoint.interval"], "checkpoint.interval.period", "required: how often to checkpoint, such as 30s")
	}

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
	doc := write(p, schema)
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
