package policies

import (
	"strings"
	"testing"
	"time"
)

func TestWith(t *testing.T) {
	base, err := Parse([]byte("name: w\njob:\n  command: [x]\n  timeout: 60s\nchain:\n  retries: {max: 2}\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		o     Overrides
		check func(*Policy) bool
		err   string
	}{
		{"engine", Overrides{Engine: EngineCooperative}, func(p *Policy) bool { return p.Job.Engine == EngineCooperative }, ""},
		// Derived retry waits follow the new limit rather than the old one.
		{"timeout rederives backoffs", Overrides{Timeout: 8 * time.Second}, func(p *Policy) bool {
			return p.Job.Timeout == 8*time.Second && p.Chain.Retries.MaxBackoff < 8*time.Second
		}, ""},
		{"no checkpoint", Overrides{Engine: EngineNone, NoCheckpoint: true}, func(p *Policy) bool {
			return p.Checkpoint.Deadline == nil && p.Checkpoint.Interval == nil
		}, ""},
		{"key compiled", Overrides{IdempotencyKey: "params.id"}, func(p *Policy) bool {
			k, err := p.IdempotencyKey(Env{Params: map[string]any{"id": "a"}})
			return err == nil && k == "a"
		}, ""},
		{"retries", Overrides{Retries: &Retries{Max: 5, Backoff: time.Second, MaxBackoff: 2 * time.Second}}, func(p *Policy) bool {
			return p.Chain.Retries == Retries{Max: 5, Backoff: time.Second, MaxBackoff: 2 * time.Second}
		}, ""},
		{"checked like a file", Overrides{Timeout: time.Hour}, nil, "w.yaml (overridden): job.timeout: expected a time limit"},
		{"engine none keeps a schedule", Overrides{Engine: EngineNone}, nil, "engine none cannot checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := base.With(tt.o, "w.yaml (overridden)")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(p) {
				t.Errorf("override not applied: %+v", p)
			}
			if base.Job.Engine != DefaultEngine || base.Job.Timeout != 60*time.Second {
				t.Errorf("the original changed: %+v", base.Job)
			}
		})
	}
}

func TestWorkflowWith(t *testing.T) {
	w, err := LoadWorkflow("testdata/workflows/report.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o, err := w.With(Overrides{Engine: EngineDMTCP, Dir: "/tmp/jobs"}, "report (test)")
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range o.Jobs() {
		if j.Job.Job.Engine != EngineDMTCP || j.Job.Job.Dir != "/tmp/jobs" || j.Job.Name != w.Jobs()[i].Job.Name {
			t.Errorf("job %d: %+v", i, j.Job.Job)
		}
	}
	if w.Jobs()[0].Job.Job.Engine != EngineCooperative {
		t.Error("the original workflow changed")
	}
}
