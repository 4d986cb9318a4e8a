package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds Parse arbitrary bytes. It must never panic; what it
// refuses it refuses with located errors, and what it accepts documents
// to JSON that reads back to an equal policy and the same document.
func FuzzParse(f *testing.F) {
	f.Add([]byte("job:\n  command: [x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "f.yaml")
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.File != "f.yaml" || e.Msg == "" {
					t.Fatalf("error without its file or message: %#v", e)
				}
			}
			return
		}
		doc := p.Document()
		if !json.Valid(doc) {
			t.Fatalf("document is not JSON: %s", doc)
		}
		q, err := Parse(doc, "<action code>")
		if err != nil {
			t.Fatalf("document does not parse back: %v\n%s", err, doc)
		}
		if again := q.Document(); !bytes.Equal(doc, again) {
			t.Fatalf("document changed on the round trip:\n%s\n%s", doc, again)
		}
		if p.Name != q.Name || p.Description != q.Description || !reflect.DeepEqual(p.Job, q.Job) ||
			!reflect.DeepEqual(p.Chain, q.Chain) || !reflect.DeepEqual(p.Storage, q.Storage) ||
			!reflect.DeepEqual(p.Checkpoint, q.Checkpoint) || !reflect.DeepEqual(p.Params, q.Params) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, q)
		}
	})
}

// Where FuzzExpr puts its expression.
const (
	inMargin = iota
	inContinue
	inKey
	inCommand // the whole argument is ${expression}
	inTemplate
	places
)

// FuzzExpr puts an arbitrary expression in each place expressions go and
// runs what compiles against a sample Env: no panic, every error located
// at that place, and a margin always within its bounds.
func FuzzExpr(f *testing.F) {
	f.Add("hop < 5", byte(inContinue))
	f.Fuzz(func(t *testing.T, src string, where byte) {
		place := int(where) % places
		job := map[string]any{"command": []string{"/bin/x"}, "timeout": "10s"}
		doc := map[string]any{"job": job}
		var path string
		switch place {
		case inMargin:
			doc["checkpoint"] = map[string]any{"deadline": map[string]any{"margin": src}}
			path = "checkpoint.deadline.margin"
		case inContinue:
			doc["chain"] = map[string]any{"continue": src}
			path = "chain.continue"
		case inKey:
			doc["chain"] = map[string]any{"idempotency_key": src}
			path = "chain.idempotency_key"
		case inCommand:
			job["command"] = []string{"/bin/x", "${" + src + "}"}
			path = "job.command[1]"
		case inTemplate:
			job["command"] = []string{"/bin/x", "--a=" + src + "-${hop}"}
			path = "job.command[1]"
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(yamlSafe(data), "f.json")
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T %v is not an ErrorList", err, err)
			}
			for _, e := range list {
				if e.Line == 0 || e.Path != path {
					t.Fatalf("error not located at %s: %#v", path, e)
				}
			}
			return
		}
		env := Env{
			Hop: 3, Attempt: 2, Elapsed: time.Minute, Remaining: time.Hour, Timeout: 10 * time.Second,
			Params: map[string]any{"n": 25.0, "s": "text", "b": true, "l": []any{1.0, "two"}, "m": map[string]any{"k": "v"}, "none": nil},
			Last:   LastHop{CheckpointTime: 2 * time.Second, WorkTime: 8 * time.Second, Bytes: 1 << 20},
		}
		located := func(what, at string, err error) {
			if err != nil && !strings.HasPrefix(err.Error(), at+":") {
				t.Fatalf("%s error not located at %s: %v", what, at, err)
			}
		}
		_, err = p.Argv(env)
		located("Argv", "job.command[1]", err)
		m, err := p.Margin(env)
		located("Margin", "checkpoint.deadline.margin", err)
		if err == nil && (m < 0 || m > p.Job.Timeout-MinTimeout) {
			t.Fatalf("margin %s outside [0, %s]", m, p.Job.Timeout-MinTimeout)
		}
		_, err = p.Continue(env)
		located("Continue", "chain.continue", err)
		_, err = p.IdempotencyKey(env)
		located("IdempotencyKey", "chain.idempotency_key", err)
	})
}
