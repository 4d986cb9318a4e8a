package experiment

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadFile(t *testing.T) {
	f, err := LoadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Repetitions != 2 || f.Platform.Timeout != 10*time.Second || f.Platform.Memory != 256 {
		t.Errorf("settings = %d %v %d", f.Repetitions, f.Platform.Timeout, f.Platform.Memory)
	}
	abs, _ := filepath.Abs("testdata/policies/count.yaml")
	want := []PolicyRef{{Name: "deadline", File: abs},
		{Name: "coop", File: abs, Engine: "cooperative", Margin: "3s", Interval: 2 * time.Second}}
	if !reflect.DeepEqual(f.Policies, want) {
		t.Errorf("policies = %+v, want %+v", f.Policies, want)
	}
	if !reflect.DeepEqual(f.Baselines, []string{"single", "self-invoke"}) {
		t.Errorf("baselines = %v", f.Baselines)
	}
	w := f.Workloads[0]
	if !reflect.DeepEqual(w.Policies, []string{"deadline", "coop"}) {
		t.Errorf("workload policies = %v", w.Policies)
	}
	cases := w.Cases()
	if len(cases) != 6 {
		t.Fatalf("%d cases, want 6: %v", len(cases), cases)
	}
	// Arguments sorted by name (n before pause_ms), first slowest; a swept
	// value wins over extra.
	first := Case{"n": 30, "pause_ms": 100, "tag": "x"}
	last := Case{"n": 70, "pause_ms": 200, "tag": "x"}
	if !reflect.DeepEqual(cases[0], first) || !reflect.DeepEqual(cases[5], last) {
		t.Errorf("cases = %v", cases)
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"unknown-field.yaml", `unknown-field.yaml:6:13: workloads.count.colour: unknown field "colour"`},
		{"wrong-type.yaml", "wrong-type.yaml:1:14: repetitions: expected a positive integer"},
		{"empty-sweep.yaml", "empty-sweep.yaml:6:10: workloads.count.args.n: empty sweep"},
		{"unknown-baseline.yaml", `unknown-baseline.yaml:3:21: baselines[1]: unknown baseline "twice"`},
		{"missing-policy.yaml", "missing-policy.yaml:3:11: policies.deadline.file: policy file"},
		{"join-without-workflow.yaml", "join-without-workflow.yaml:4:5: policies.deadline.join: a join applies to a workflow"},
		{"composer-baseline-job.yaml", "composer-baseline-job.yaml: workloads.count: baseline composer runs an openwhisk-composer composition"},
		{"unknown-join.yaml", `unknown-join.yaml:5:11: policies.wait.join: unknown join "later"`},
		{"unknown-join.yaml", "unknown-join.yaml: workloads.fanout: baseline single runs a single job"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := LoadFile(filepath.Join("testdata/bad", tt.file))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRuns(t *testing.T) {
	f, err := LoadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	runs := f.Runs()
	// 6 cases × 2 repetitions × (2 policies + 2 baselines).
	if len(runs) != 48 {
		t.Fatalf("%d runs, want 48", len(runs))
	}
	var order []string
	for _, r := range runs[:4] {
		order = append(order, r.Policy)
	}
	if !reflect.DeepEqual(order, []string{"deadline", "coop", "single", "self-invoke"}) {
		t.Errorf("order %v", order)
	}
	if b := runs[2]; b.Baseline != BaselineSingle || b.Ref.Name != "deadline" || b.Platform.Timeout != 10*time.Second {
		t.Errorf("baseline run %+v: want the workload's first policy and the platform settings", b)
	}
	if runs[4].Repetition != 2 || !reflect.DeepEqual(runs[4].Args, runs[0].Args) {
		t.Errorf("run 4 = %+v, want the second repetition of the first case", runs[4])
	}
}
