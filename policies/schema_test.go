package policies

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// TestSchemaRoundTrip: a file that sets every field of the schema to
// something other than its default comes back from Document with every
// field, and reads back to an equal policy.
func TestSchemaRoundTrip(t *testing.T) {
	src := `name: every
description: every field set
params: {n: 3}
job:
  command: [/bin/job, "${params.n}"]
  engine: cooperative
  timeout: 20s
  memory: 384
  env: {A: b}
  api_key: true
  result: out.json
  dir: /var/jobs
checkpoint:
  deadline: {margin: 3s}
  interval: {period: 7s}
chain:
  max_hops: 9
  max_duration: 1h
  continue: hop < 9
  idempotency_key: string(params.n)
  length_limit: 40
  on_length_limit: fail
  retries: {max: 4, backoff: 2s, max_backoff: 8s}
storage:
  url: s3://bucket
  prefix: p/
  compression: zstd
  checksum: crc32c
  encrypt: true
  keep: 3
  retain_finished: 2h
`
	p, err := Parse([]byte(src), "every.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(p.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	var missing []string
	var walk func(fields []field, m map[string]any, path string)
	walk = func(fields []field, m map[string]any, path string) {
		for _, f := range fields {
			v, ok := m[f.name]
			if !ok {
				missing = append(missing, join(path, f.name))
				continue
			}
			if f.sub != nil {
				sub, _ := v.(map[string]any)
				walk(f.sub, sub, join(path, f.name))
			}
		}
	}
	walk(schema, doc, "")
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("Document leaves out %v", missing)
	}
	q, err := Parse(p.Document(), "document")
	if err != nil {
		t.Fatal(err)
	}
	q.Source, q.nodes, p.nodes = p.Source, nil, nil
	if !reflect.DeepEqual(p.Job, q.Job) || !reflect.DeepEqual(p.Chain, q.Chain) || !reflect.DeepEqual(p.Storage, q.Storage) ||
		!reflect.DeepEqual(p.Checkpoint, q.Checkpoint) || !reflect.DeepEqual(p.Params, q.Params) || p.Name != q.Name || p.Description != q.Description {
		t.Errorf("read back differs:\n%+v\n%+v", p, q)
	}
}
