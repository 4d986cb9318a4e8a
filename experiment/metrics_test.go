package experiment

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/whisk"
)

func TestOverlap(t *testing.T) {
	tests := []struct {
		name string
		iv   []Interval
		want int64
	}{
		{"none", nil, 0},
		{"single", []Interval{{0, 100}}, 0},
		{"disjoint", []Interval{{0, 10}, {20, 30}}, 0},
		{"chained (touching)", []Interval{{0, 10}, {10, 20}, {20, 30}}, 0},
		{"partial", []Interval{{0, 10}, {5, 20}}, 5},
		{"nested", []Interval{{0, 100}, {10, 20}}, 10},
		{"identical", []Interval{{0, 50}, {0, 50}}, 50},
		{"three deep counts once", []Interval{{0, 30}, {10, 40}, {15, 20}}, 20},
		{"unsorted", []Interval{{50, 60}, {0, 10}, {55, 70}, {5, 8}}, 8},
		{"empty interval ignored", []Interval{{5, 5}, {0, 10}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Overlap(tt.iv); got != tt.want {
				t.Errorf("Overlap(%v) = %d, want %d", tt.iv, got, tt.want)
			}
		})
	}
}

// rec builds an activation record of the named action.
func rec(t *testing.T, name string, start, end int64, memMB int, result any, success bool) whisk.Activation {
	t.Helper()
	b, err := json.Marshal(result)
	if err != nil {
		t.Fatal(err)
	}
	ann := whisk.KeyValues{{Key: "path", Value: "guest/" + name}, {Key: "kind", Value: "blackbox"}}
	if memMB > 0 {
		// As decoded from the API: a JSON object.
		ann = ann.Set("limits", map[string]any{"timeout": 10000.0, "memory": float64(memMB)})
	}
	return whisk.Activation{Name: name, Start: start, End: end, Duration: end - start, Annotations: ann,
		Response: whisk.Response{Success: success, Result: b}}
}

func primary(start, end, dur int64) whisk.Activation {
	return whisk.Activation{Name: "job", Start: start, End: end, Duration: dur,
		Annotations: whisk.KeyValues{{Key: "kind", Value: "sequence"}, {Key: "conductor", Value: true},
			{Key: "limits", Value: whisk.Limits{Memory: 256}}}}
}

func step(status hop.Status, m hop.Metrics) map[string]any {
	return map[string]any{"n": 1, hop.StepKey: hop.Report{Job: "j", Status: status, Metrics: m}}
}

func TestMeasure(t *testing.T) {
	cond := map[string]any{"action": "/guest/step"}
	tests := []struct {
		name string
		job  func(t *testing.T) Job
		want Metrics
	}{
		{
			name: "conductor chain, primary not billed",
			job: func(t *testing.T) Job {
				return Job{Conductor: "cond", Records: []whisk.Activation{
					primary(0, 1000, 950),
					rec(t, "cond", 0, 50, 256, cond, true),
					rec(t, "step", 50, 450, 512, step(hop.Checkpointed, hop.Metrics{WorkMS: 300, CheckpointMS: 40, ImageBytes: 1000, Checkpoints: 1}), true),
					rec(t, "cond", 450, 500, 256, cond, true),
					rec(t, "step", 500, 950, 512, step(hop.Done, hop.Metrics{WorkMS: 350, RestoreMS: 30}), true),
					rec(t, "cond", 950, 1000, 256, map[string]any{"n": 1}, true),
				}}
			},
			want: Metrics{Activations: 6, Billed: 5, BilledMS: 1000, ConductorMS: 150, StepMS: 850,
				Hops: 2, Finals: 1, WorkMS: 650, Checkpoints: 1, CheckpointMS: 40, CheckpointB: 1000, RestoreMS: 30,
				GBs: 0.15*0.25 + 0.85*0.5},
		},
		{
			name: "self-invoke overlap, duplicate result, lost work, driver-seen waiting",
			job: func(t *testing.T) Job {
				return Job{WaitingMS: 70, Records: []whisk.Activation{
					rec(t, "step", 0, 1000, 1024, step(hop.Checkpointed, hop.Metrics{WorkMS: 900, Checkpoints: 1, LostMS: 120}), true),
					rec(t, "step", 900, 2000, 1024, step(hop.Done, hop.Metrics{WorkMS: 1000}), true),
					rec(t, "step", 950, 2100, 1024, step(hop.Done, hop.Metrics{WorkMS: 1000}), true),
				}}
			},
			want: Metrics{Activations: 3, Billed: 3, BilledMS: 3250, StepMS: 3250, Hops: 3, Finals: 2, Duplicates: 1,
				WorkMS: 2900, WorkLostMS: 120, Checkpoints: 1, DoubleBilledMS: 1100 /* 900..2000 */, WaitingMS: 70, GBs: 3.25},
		},
		{
			name: "a retry waits on a dead hop's claim: waiting is double billed, overlap counted once",
			job: func(t *testing.T) Job {
				return Job{Records: []whisk.Activation{
					rec(t, "step", 0, 1000, 0, map[string]any{"error": "The action exceeded its time limits of 1000 milliseconds."}, false),
					rec(t, "step", 800, 3000, 0, step(hop.Done, hop.Metrics{WorkMS: 1500, WaitStart: 800, WaitMS: 600}), true),
				}}
			},
			want: Metrics{Activations: 2, Billed: 2, BilledMS: 3200, StepMS: 3200, Hops: 2, Finals: 1, WorkMS: 1500,
				WaitingMS: 600, DoubleBilledMS: 600 /* overlap 800..1000 inside the wait 800..1400 */, WorkLostMS: 1000},
		},
		{
			name: "lost work: as the hops report it, and all of a hop killed without a report",
			job: func(t *testing.T) Job {
				return Job{Records: []whisk.Activation{
					rec(t, "step", 0, 100, 0, map[string]any{"error": map[string]any{"message": "boom",
						hop.StepKey: hop.Report{Status: hop.Failed, Metrics: hop.Metrics{WorkMS: 80, LostMS: 80}}}}, false),
					rec(t, "step", 100, 300, 0, map[string]any{"error": "The action exceeded its time limits of 200 milliseconds."}, false),
					rec(t, "step", 300, 400, 0, step(hop.Failed, hop.Metrics{WorkMS: 90, Checkpoints: 2, LostMS: 30}), false),
				}}
			},
			want: Metrics{Activations: 3, Billed: 3, BilledMS: 400, StepMS: 400, Hops: 3, WorkMS: 170, Checkpoints: 2, WorkLostMS: 310},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Measure(tt.job(t))
			if math.Abs(got.GBs-tt.want.GBs) > 1e-9 {
				t.Errorf("GBs = %v, want %v", got.GBs, tt.want.GBs)
			}
			got.GBs, tt.want.GBs = 0, 0
			if got != tt.want {
				t.Errorf("Measure =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestMemoryMB(t *testing.T) {
	tests := []struct {
		name string
		ann  whisk.KeyValues
		want int
	}{
		{"absent", nil, 0},
		{"decoded", whisk.KeyValues{{Key: "limits", Value: map[string]any{"memory": 512.0}}}, 512},
		{"struct", whisk.KeyValues{{Key: "limits", Value: whisk.Limits{Memory: 128}}}, 128},
		{"garbage", whisk.KeyValues{{Key: "limits", Value: "x"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MemoryMB(whisk.Activation{Annotations: tt.ann}); got != tt.want {
				t.Errorf("MemoryMB = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestMeasureFanOut measures a fan-out's join: a conductor run that
// outlives the branches it started was billed while it waited for them;
// branches that overlap each other are not billed twice.
func TestMeasureFanOut(t *testing.T) {
	work := func(start, end int64) whisk.Activation {
		return rec(t, "work", start, end, 256, map[string]any{}, true)
	}
	cond := func(start, end int64) whisk.Activation { return rec(t, "c", start, end, 256, map[string]any{}, true) }
	tests := []struct {
		name     string
		job      Job
		waiting  int64
		doubleMS int64
	}{
		{"parent blocks on two branches", Job{Conductor: "c", Parallel: true,
			Records: []whisk.Activation{primary(0, 5000, 0), cond(0, 5000), work(100, 3100), work(200, 3200)}}, 3100, 3100},
		{"parent ends before its branches (handoff)", Job{Conductor: "c", Parallel: true,
			Records: []whisk.Activation{cond(0, 50), cond(10, 12), work(100, 3100), work(200, 3200), cond(3200, 3210)}}, 0, 0},
		{"branches apart inside a wait count as their union", Job{Conductor: "c", Parallel: true,
			Records: []whisk.Activation{cond(0, 9000), work(100, 1100), work(5000, 6000)}}, 2000, 2000},
		{"a chain's conductor runs between components", Job{Conductor: "c",
			Records: []whisk.Activation{cond(0, 10), work(10, 3000), cond(3000, 3010), work(3010, 6000)}}, 0, 0},
		{"overlap outside a fan-out is still double billing", Job{Conductor: "c",
			Records: []whisk.Activation{cond(0, 10), work(10, 3000), work(2000, 4000)}}, 0, 1000},
		{"overlap of parallel branches is not", Job{Conductor: "c", Parallel: true,
			Records: []whisk.Activation{cond(0, 10), work(10, 3000), work(20, 3000)}}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Measure(tt.job)
			if m.WaitingMS != tt.waiting || m.DoubleBilledMS != tt.doubleMS {
				t.Errorf("waiting %d ms, double-billed %d ms; want %d, %d", m.WaitingMS, m.DoubleBilledMS, tt.waiting, tt.doubleMS)
			}
		})
	}
}
