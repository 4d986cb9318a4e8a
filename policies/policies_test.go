package policies

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseBadInput(t *testing.T) {
	// Each case is a distinct mistake; want is the file:line:col prefix
	// and a piece of the message a user needs to fix it.
	tests := []struct {
		name, src, want, msg string
	}{
		{"syntax error", "job: [\n", "p.yaml:1:1", "did not find expected"},
		{"empty document", "", "p.yaml: empty policy", ""},
		{"top level not a mapping", "- a\n- b\n", "p.yaml:1:1", "expected a mapping, got a list"},
		{"unknown top-level field", "jobs:\n  command: [x]\n", "p.yaml:1:1: jobs", "unknown field; expected one of"},
		{"missing job", "name: x\n", "p.yaml:1:1: job", "required: the job to run"},
		{"missing command", "job:\n  engine: none\n", "p.yaml:2:3: job.command", "required"},
		{"empty command list", "job:\n  command: []\n", "p.yaml:2:12: job.command", "at least the program"},
		{"command not a list", "job:\n  command: {a: 1}\n", "p.yaml:2:12: job.command", "expected a list"},
		{"unknown job field", "job:\n  command: [x]\n  memroy: 256\n", "p.yaml:3:3: job.memroy", "unknown field"},
		{"unknown engine", "job:\n  command: [x]\n  engine: criu\n", "p.yaml:3:11: job.engine", "expected one of dmtcp, cooperative, none, auto"},
		{"timeout wrong type", "job:\n  command: [x]\n  timeout: [1]\n", "p.yaml:3:12: job.timeout", "expected a duration"},
		{"timeout bare number", "job:\n  command: [x]\n  timeout: 60\n", "p.yaml:3:12: job.timeout", "expected a duration such as 10s"},
		{"negative timeout", "job:\n  command: [x]\n  timeout: -5s\n", "p.yaml:3:12: job.timeout", "greater than 0"},
		{"zero timeout", "job:\n  command: [x]\n  timeout: 0s\n", "p.yaml:3:12: job.timeout", "greater than 0"},
		{"timeout over bound", "job:\n  command: [x]\n  timeout: 10m\n", "p.yaml:3:12: job.timeout", "OpenWhisk's bounds"},
		{"memory string", "job:\n  command: [x]\n  memory: lots\n", "p.yaml:3:11: job.memory", "expected a whole number"},
		{"memory out of bounds", "job:\n  command: [x]\n  memory: 4096\n", "p.yaml:3:11: job.memory", "from 128 to 512"},
		{"relative job dir", "job:\n  command: [x]\n  dir: jobs\n", "p.yaml:3:8: job.dir", "absolute path"},
		{"margin not smaller than timeout", "job:\n  command: [x]\n  timeout: 10s\ncheckpoint:\n  deadline:\n    margin: 10s\n", "p.yaml:6:13: checkpoint.deadline.margin", "must be smaller than the job's timeout"},
		{"negative margin", "job:\n  command: [x]\ncheckpoint:\n  deadline:\n    margin: -1s\n", "p.yaml:5:13: checkpoint.deadline.margin", "greater than 0"},
		{"margin expression does not parse", "job:\n  command: [x]\ncheckpoint:\n  deadline:\n    margin: last.checkpoint_time *\n", "p.yaml:5:", "in expression"},
		{"margin expression wrong type", "job:\n  command: [x]\ncheckpoint:\n  deadline:\n    margin: hop + 1\n", "p.yaml:5:13: checkpoint.deadline.margin", "got an expression of type int"},
		{"margin unknown name", "job:\n  command: [x]\ncheckpoint:\n  deadline:\n    margin: lastt.checkpoint_time\n", "p.yaml:5:13: checkpoint.deadline.margin", "unknown name lastt"},
		{"interval without period", "job:\n  command: [x]\ncheckpoint:\n  interval: {}\n", "p.yaml:4:13: checkpoint.interval.period", "required"},
		{"interval never fires", "job:\n  command: [x]\n  timeout: 10s\ncheckpoint:\n  interval:\n    period: 20s\n", "p.yaml:5:3: checkpoint.interval.period", "never checkpoints"},
		{"empty checkpoint", "job:\n  command: [x]\ncheckpoint: {}\n", "p.yaml:3:13: checkpoint", "expected deadline, interval or both"},
		{"engine none with checkpoint", "job:\n  command: [x]\n  engine: none\ncheckpoint:\n  interval:\n    period: 5s\n", "p.yaml:5:3: checkpoint", "engine none cannot checkpoint"},
		{"continue not boolean", "job:\n  command: [x]\nchain:\n  continue: hop + 1\n", "p.yaml:4:13: chain.continue", "expected a boolean expression"},
		{"continue does not parse", "job:\n  command: [x]\nchain:\n  continue: hop <\n", "p.yaml:4:", "chain.continue"},
		{"max_hops zero", "job:\n  command: [x]\nchain:\n  max_hops: 0\n", "p.yaml:4:13: chain.max_hops", "greater than 0"},
		{"negative retries", "job:\n  command: [x]\nchain:\n  retries:\n    max: -1\n", "p.yaml:5:10: chain.retries.max", "0 or more"},
		{"unknown on_length_limit", "job:\n  command: [x]\nchain:\n  on_length_limit: wrap\n", "p.yaml:4:20: chain.on_length_limit", "expected one of continue, fail"},
		{"key not a string", "job:\n  command: [x]\nchain:\n  idempotency_key: hop * 2\n", "p.yaml:4:20: chain.idempotency_key", "yielding a string"},
		{"unknown storage scheme", "job:\n  command: [x]\nstorage:\n  url: ftp://host/x\n", "p.yaml:4:8: storage.url", "unknown storage scheme \"ftp\""},
		{"relative file url", "job:\n  command: [x]\nstorage:\n  url: file://store\n", "p.yaml:4:8: storage.url", "absolute file URL"},
		{"credentials in url", "job:\n  command: [x]\nstorage:\n  url: s3://key:secret@bucket\n", "p.yaml:4:8: storage.url", "credentials do not belong"},
		{"bad compression", "job:\n  command: [x]\nstorage:\n  compression: gzip\n", "p.yaml:4:16: storage.compression", "expected one of none, zstd"},
		{"bad checksum", "job:\n  command: [x]\nstorage:\n  checksum: md5\n", "p.yaml:4:13: storage.checksum", "expected one of sha256, crc32c"},
		{"encrypt not boolean", "job:\n  command: [x]\nstorage:\n  encrypt: maybe\n", "p.yaml:4:12: storage.encrypt", "expected true or false"},
		{"argument expression unknown name", "job:\n  command: [x, \"${param.n}\"]\n", "p.yaml:2:19: job.command[1]", "unknown name param"},
		{"argument template unclosed", "job:\n  command: [x, \"${params.n\"]\n", "p.yaml:2:16: job.command[1]", "unclosed ${"},
		{"field given twice", "job:\n  command: [x]\n  command: [y]\n", "p.yaml:3:3: job.command", "given twice"},
		{"bad action name", "name: my job/1\njob:\n  command: [x]\n", "p.yaml:1:7: name", "expected an OpenWhisk action name"},
		{"params not a mapping", "params: [1, 2]\njob:\n  command: [x]\n", "p.yaml:1:9: params", "expected a mapping"},
		{"params infinity", "params: {x: .inf}\njob:\n  command: [x]\n", "p.yaml:1:13: params.x", "expected a finite number, got .inf"},
		{"params negative infinity", "params: {x: -.Inf}\njob:\n  command: [x]\n", "p.yaml:1:13: params.x", "JSON has no infinity or NaN"},
		{"params nan", "params: {x: .nan}\njob:\n  command: [x]\n", "p.yaml:1:13: params.x", "expected a finite number, got .nan"},
		{"params nan nested", "params:\n  a: [1, {b: [.NaN]}]\njob:\n  command: [x]\n", "p.yaml:2:15: params.a[1].b[0]", "finite number"},
		{"params int key", "params: {1: a}\njob:\n  command: [x]\n", "p.yaml:1:10: params.1", "expected a string key (JSON object keys are strings), got int 1; quote it"},
		{"params list key", "params: {x: {[a]: b}}\njob:\n  command: [x]\n", "p.yaml:1:14: params.x", "expected a string key (JSON object keys are strings), got a list"},
		{"params nested int key", "params:\n  x:\n    - {true: a}\njob:\n  command: [x]\n", "p.yaml:3:8: params.x[0].true", "got bool true"},
		{"params null key", "params: {~: a}\njob:\n  command: [x]\n", "p.yaml:1:10: params.~", "string key"},
		{"params key given twice", "params: {a: 1, a: 2}\njob:\n  command: [x]\n", "p.yaml:1:16: params.a", "given twice"},
		{"params binary not text", "params: {x: !!binary /w==}\njob:\n  command: [x]\n", "p.yaml:1:13: params.x", "not UTF-8"},
		{"params merge of a scalar", "params: {<<: 1}\njob:\n  command: [x]\n", "p.yaml:1:14: params", "to merge"},
		{"env name with equals", "job:\n  command: [x]\n  env: {\"A=B\": c}\n", "p.yaml:3:9: job.env.A=B", "without \"=\""},
		{"env name not a string", "job:\n  command: [x]\n  env: {[A]: c}\n", "p.yaml:3:9: job.env", "expected a variable name"},
		{"length limit not above retries", "job:\n  command: [x]\nchain:\n  length_limit: 2\n  retries: {max: 2}\n", "p.yaml:4:17: chain.length_limit", "chain.length_limit (2) must be greater than chain.retries.max (2): every attempt of one hop plus the next hop must fit in one invocation"},
		{"retries above default length limit", "job:\n  command: [x]\nchain:\n  retries: {max: 50}\n", "p.yaml:4:18: chain.retries.max", "chain.length_limit (50) must be greater than chain.retries.max (50)"},
		{"backoff as long as the timeout", "job:\n  command: [x]\n  timeout: 10s\nchain:\n  retries: {backoff: 10s}\n", "p.yaml:5:22: chain.retries.backoff", "the wait (10s) must be shorter than job.timeout (10s)"},
		{"max_backoff longer than the default timeout", "job:\n  command: [x]\nchain:\n  retries: {max_backoff: 2m}\n", "p.yaml:4:26: chain.retries.max_backoff", "shorter than the default job.timeout (1m0s): a retried step waits it inside its own activation"},
		{"max_backoff below backoff", "job:\n  command: [x]\nchain:\n  retries: {backoff: 5s, max_backoff: 2s}\n", "p.yaml:4:39: chain.retries.max_backoff", "must not be smaller than backoff (5s)"},
		{"api_key not boolean", "job:\n  command: [x]\n  api_key: \"yes please\"\n", "p.yaml:3:12: job.api_key", "expected true or false"},
		{"json unknown field", "{\"job\": {\"command\": [\"x\"], \"cpu\": 2}}", "p.yaml:1:28: job.cpu", "unknown field"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if seen[tt.src] {
				t.Fatalf("duplicate case source")
			}
			seen[tt.src] = true
			_, err := Parse([]byte(tt.src), "p.yaml")
			if err == nil {
				t.Fatalf("Parse accepted bad input:\n%s", tt.src)
			}
			got := err.Error()
			if !strings.HasPrefix(got, tt.want) && !strings.Contains(got, "\n"+tt.want) {
				t.Errorf("error %q does not start with %q", got, tt.want)
			}
			if !strings.Contains(got, tt.msg) {
				t.Errorf("error %q does not mention %q", got, tt.msg)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("error %T does not unwrap to *Error", err)
			}
		})
	}
	if len(tests) < 20 {
		t.Errorf("only %d bad inputs; the suite promises at least 20", len(tests))
	}
}

func TestParseReportsEveryError(t *testing.T) {
	_, err := Load("testdata/bad-many.yaml")
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want an ErrorList", err)
	}
	want := []string{
		"testdata/bad-many.yaml:4:11: job.engine",
		"testdata/bad-many.yaml:5:12: job.timeout",
		"testdata/bad-many.yaml:6:3: job.memroy",
	}
	if len(list) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(list), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(list[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, list[i], w)
		}
	}
}

// Values JSON cannot carry are errors collected with the rest, not a
// panic when the policy is compiled.
func TestParamsErrorsCollected(t *testing.T) {
	src := "params:\n  a: .inf\n  b: {1: x}\njob:\n  command: [x]\n  engine: criu\n"
	_, err := Parse([]byte(src), "p.yaml")
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want an ErrorList", err)
	}
	want := []string{"p.yaml:2:6: params.a", "p.yaml:3:7: params.b.1", "p.yaml:6:11: job.engine"}
	if len(list) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(list), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(list[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, list[i], w)
		}
	}
}

// Parameters read as JSON would read them, whatever YAML spelling they
// have, and the document reads back to the same values.
func TestParamsAsJSON(t *testing.T) {
	src := `
params:
  base: &base {n: 1, s: two}
  copy: *base
  merged: {<<: *base, n: 3}
  merged_list: {<<: [{a: 1}, {a: 2, b: 2}]}
  date: 2001-12-14
  hex: 0x1F
  big: 99999999999999999999999
  nothing: ~
  quoted_inf: ".inf"
  text: !!binary aGVsbG8=
  list: [1, [true, null]]
job:
  command: [x]
`
	p, err := Parse([]byte(src), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"base":        map[string]any{"n": 1.0, "s": "two"},
		"copy":        map[string]any{"n": 1.0, "s": "two"},
		"merged":      map[string]any{"n": 3.0, "s": "two"},
		"merged_list": map[string]any{"a": 1.0, "b": 2.0},
		"date":        "2001-12-14",
		"hex":         31.0,
		"big":         1e23,
		"nothing":     nil,
		"quoted_inf":  ".inf",
		"text":        "hello",
		"list":        []any{1.0, []any{true, nil}},
	}
	if !reflect.DeepEqual(p.Params, want) {
		t.Errorf("params\n%#v\nwant\n%#v", p.Params, want)
	}
	q, err := Parse(p.Document(), "<action code>")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.Params, want) {
		t.Errorf("params after the round trip\n%#v\nwant\n%#v", q.Params, want)
	}
}

// Anchors nested in each other would expand to billions of values.
func TestParamsAliasBomb(t *testing.T) {
	src := "params:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		src += fmt.Sprintf("  %s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	src += "job:\n  command: [x]\n"
	start := time.Now()
	_, err := Parse([]byte(src), "p.yaml")
	if err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Fatalf("err = %v, want the alias limit", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing the aliases took %s", d)
	}
}

// Retry waits that are not given fit in the time limit; a user who wrote
// nothing gets no error whatever the timeout.
func TestRetryWaits(t *testing.T) {
	tests := []struct {
		name, src           string
		backoff, maxBackoff time.Duration
	}{
		{"defaults", "", DefaultBackoff, DefaultMaxBackoff},
		{"short timeout cuts the maximum", "  timeout: 4s\n", time.Second, time.Second},
		{"shorter timeout cuts both", "  timeout: 800ms\n", 200 * time.Millisecond, 200 * time.Millisecond},
		{"shortest timeout", "  timeout: 100ms\n", 25 * time.Millisecond, 25 * time.Millisecond},
		{"given maximum bounds the default backoff", "  timeout: 10s\nchain:\n  retries: {max_backoff: 200ms}\n", 200 * time.Millisecond, 200 * time.Millisecond},
		{"given backoff raises the default maximum", "  timeout: 300s\nchain:\n  retries: {backoff: 1m}\n", time.Minute, time.Minute},
		{"given backoff under a short timeout", "  timeout: 2s\nchain:\n  retries: {backoff: 1500ms}\n", 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"both given", "  timeout: 10s\nchain:\n  retries: {backoff: 1s, max_backoff: 9s}\n", time.Second, 9 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Engine none: no deadline checkpoint, whose default margin has
			// limits of its own.
			p, err := Parse([]byte("job:\n  command: [x]\n  engine: none\n"+tt.src), "p.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if r := p.Chain.Retries; r.Backoff != tt.backoff || r.MaxBackoff != tt.maxBackoff {
				t.Errorf("backoff %s, max_backoff %s; want %s, %s", r.Backoff, r.MaxBackoff, tt.backoff, tt.maxBackoff)
			}
		})
	}
}

// A policy whose timeout is changed after loading (an experiment, the
// CLI's --engine) documents its derived waits anew, not the old ones.
func TestRetryWaitsFollowTheTimeout(t *testing.T) {
	p, err := Parse([]byte("job:\n  command: [x]\ncheckpoint:\n  deadline: {margin: 1s}\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Job.Timeout = 4 * time.Second
	q, err := Parse(p.Document(), "<action code>")
	if err != nil {
		t.Fatalf("document with a shorter timeout: %v", err)
	}
	if q.Chain.Retries.MaxBackoff != time.Second {
		t.Errorf("max_backoff %s, want 1s (timeout/4)", q.Chain.Retries.MaxBackoff)
	}
	// A wait set by hand is kept.
	p.Chain.Retries.MaxBackoff = 3 * time.Second
	if q, err = Parse(p.Document(), "<action code>"); err != nil || q.Chain.Retries.MaxBackoff != 3*time.Second {
		t.Errorf("max_backoff set by hand: %v, %v", q.Chain.Retries.MaxBackoff, err)
	}
}

func TestDefaults(t *testing.T) {
	p, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Job.Engine != DefaultEngine || p.Job.Timeout != DefaultTimeout || p.Job.Memory != DefaultMemory || p.Job.APIKey {
		t.Errorf("job defaults: %+v", p.Job)
	}
	if p.Checkpoint.Deadline == nil || p.Checkpoint.Deadline.Margin != DefaultMargin.String() || p.Checkpoint.Interval != nil {
		t.Errorf("checkpoint defaults: %+v", p.Checkpoint)
	}
	if p.Chain.MaxHops != DefaultMaxHops || p.Chain.Retries.Max != DefaultRetries || p.Chain.LengthLimit != DefaultLengthLimit {
		t.Errorf("chain defaults: %+v", p.Chain)
	}
	if p.Storage.URL != DefaultStorageURL || p.Storage.Keep != DefaultKeep || p.Storage.Checksum != DefaultChecksum {
		t.Errorf("storage defaults: %+v", p.Storage)
	}
	// docs/policies.md is where users read the defaults: it must agree.
	doc, err := os.ReadFile("../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{DefaultTimeout.String(), DefaultMargin.String(), "`" + DefaultStorageURL + "`", "`" + DefaultChecksum + "`", DefaultJobDir,
		fmt.Sprintf("`job.timeout`/%d", BackoffTimeoutShare)} {
		if !strings.Contains(string(doc), v) {
			t.Errorf("docs/policies.md does not mention the default %s", v)
		}
	}
}

// The API key stays out of the job unless the policy asks for it, and the
// choice travels in the document.
func TestAPIKey(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want bool
	}{
		{"", false},
		{"  api_key: false\n", false},
		{"  api_key: true\n", true},
	} {
		p, err := Parse([]byte("job:\n  command: [x]\n"+tt.src), "p.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if p.Job.APIKey != tt.want {
			t.Errorf("%q: APIKey = %v, want %v", tt.src, p.Job.APIKey, tt.want)
		}
		q, err := Parse(p.Document(), "<action code>")
		if err != nil || q.Job.APIKey != tt.want {
			t.Errorf("%q: after the round trip APIKey = %v (%v), want %v", tt.src, q.Job.APIKey, err, tt.want)
		}
	}
}

func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/compositions/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least three example policies, got %v (%v)", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if w, err := LoadWorkflow(f); err != nil || !w.Single {
				// A workflow: its own tests load it.
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			p, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			argv, err := p.Argv(Env{Hop: 1, Attempt: 1})
			if err != nil {
				t.Fatal(err)
			}
			if !filepath.IsAbs(argv[0]) {
				t.Errorf("program %q was not resolved against the policy's folder", argv[0])
			}
			// The document that travels in the action code must read back
			// to the same policy.
			q, err := Parse(p.Document(), "<action code>")
			if err != nil {
				t.Fatalf("document does not parse back: %v\n%s", err, p.Document())
			}
			p.Source, q.Source = "", ""
			if !reflect.DeepEqual(p.Job, q.Job) || !reflect.DeepEqual(p.Chain, q.Chain) ||
				!reflect.DeepEqual(p.Storage, q.Storage) || !reflect.DeepEqual(p.Checkpoint, q.Checkpoint) ||
				!reflect.DeepEqual(p.Params, q.Params) {
				t.Errorf("round trip changed the policy:\n%+v\n%+v", p, q)
			}
		})
	}
}

func TestExpressions(t *testing.T) {
	src := `
params: {n: 30}
job:
  command: [/bin/count, "--to=${params.n}", "${params.big}", "$${literal}", "${hop}-${attempt}"]
  timeout: 10s
checkpoint:
  deadline:
    margin: max(duration("2s"), last.checkpoint_time * 3)
chain:
  continue: hop < 5 && remaining > duration("1m")
  idempotency_key: '"job-" + string(params.n)'
`
	p, err := Parse([]byte(src), "inline")
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Hop: 2, Attempt: 3, Remaining: time.Hour, Params: map[string]any{"big": 1.2e18}}
	argv, err := p.Argv(env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/bin/count", "--to=30", "1200000000000000000", "${literal}", "2-3"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("Argv = %q, want %q", argv, want)
	}

	margins := []struct {
		last time.Duration
		want time.Duration
	}{
		{0, 2 * time.Second},
		{time.Second, 3 * time.Second},
		{time.Hour, 10*time.Second - MinTimeout}, // clamped below the timeout
	}
	for _, m := range margins {
		got, err := p.Margin(Env{Last: LastHop{CheckpointTime: m.last}})
		if err != nil || got != m.want {
			t.Errorf("Margin(last=%s) = %s, %v; want %s", m.last, got, err, m.want)
		}
	}

	conts := []struct {
		env  Env
		want bool
	}{
		{Env{Hop: 4, Remaining: time.Hour}, true},
		{Env{Hop: 5, Remaining: time.Hour}, false},
		{Env{Hop: 1, Remaining: time.Second}, false},
	}
	for _, c := range conts {
		if got, err := p.Continue(c.env); err != nil || got != c.want {
			t.Errorf("Continue(%+v) = %v, %v; want %v", c.env, got, err, c.want)
		}
	}

	key, err := p.IdempotencyKey(Env{Params: map[string]any{"n": 7.0}})
	if err != nil || key != "job-7" {
		t.Errorf("IdempotencyKey = %q, %v; want job-7", key, err)
	}
}

func TestExpressionRuntimeErrors(t *testing.T) {
	// params.x has no static type, so these are checked when they run.
	src := `
job:
  command: [/bin/x]
chain:
  continue: params.go
  idempotency_key: params.id
`
	p, err := Parse([]byte(src), "inline")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Continue(Env{Params: map[string]any{"go": "yes"}}); err == nil {
		t.Error("Continue accepted a string")
	}
	if ok, err := p.Continue(Env{Params: map[string]any{"go": true}}); err != nil || !ok {
		t.Errorf("Continue = %v, %v", ok, err)
	}
	if _, err := p.IdempotencyKey(Env{Params: map[string]any{"id": 3.0}}); err == nil {
		t.Error("IdempotencyKey accepted a number")
	}
	if _, err := p.IdempotencyKey(Env{Params: map[string]any{}}); err == nil {
		t.Error("IdempotencyKey accepted a missing value")
	}
}
