// Package experiment runs and measures Serverless Trilemma experiments:
// it reads experiment files, computes billing and fault metrics from
// activation records and step reports, and renders results.
package experiment

import (
	"encoding/json"
	"sort"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/whisk"
)

// Job is everything measured about one run of a job: the activation
// records its invocations caused, which action is the conductor, and the
// time a driver saw an activation block waiting on another.
type Job struct {
	Records []whisk.Activation
	// Conductor is the conductor action's name or path; records of it are
	// conductor runs. Empty means the job has no conductor.
	Conductor string
	// WaitingMS is time a driver saw a billed activation block waiting on
	// another, beyond what the hops report themselves.
	WaitingMS int64
	// Parallel says the job fans out: its branches run at once by
	// design, so records that overlap are not billed twice; only waits
	// are.
	Parallel bool
}

// Metrics are the figures computed from one Job.
type Metrics struct {
	Activations    int     `json:"activations"`      // all records, billed or not
	Billed         int     `json:"billed"`           // records that are billed
	BilledMS       int64   `json:"billed_ms"`        // summed duration of billed records
	GBs            float64 `json:"gb_s"`             // summed duration × memory of billed records
	ConductorMS    int64   `json:"conductor_ms"`     // billed time of conductor runs
	StepMS         int64   `json:"step_ms"`          // billed time of every other record
	DoubleBilledMS int64   `json:"double_billed_ms"` // time during which ≥2 billed records overlapped or one waited on another
	WaitingMS      int64   `json:"waiting_ms"`       // time billed while waiting on another activation
	Hops           int     `json:"hops"`             // step records (each is one hop attempt)
	Finals         int     `json:"finals"`           // step reports with status done
	Duplicates     int     `json:"duplicates"`       // Finals beyond the first
	WorkMS         int64   `json:"work_ms"`          // work reported by every hop
	WorkLostMS     int64   `json:"work_lost_ms"`     // work done after a hop's newest image, redone by a later hop
	Checkpoints    int     `json:"checkpoints"`
	CheckpointMS   int64   `json:"checkpoint_ms"`
	CheckpointB    int64   `json:"checkpoint_bytes"`
	RestoreMS      int64   `json:"restore_ms"`
}

// Billed says whether a record is billed. A sequence's or composition's
// primary record (kind "sequence") is not: its duration is the sum of its
// derived records, which are billed themselves, so billing it too would
// count every millisecond twice.
func Billed(a whisk.Activation) bool {
	k, _ := a.Annotations.Get("kind").(string)
	return k != "sequence"
}

// MemoryMB is the memory limit in the record's limits annotation, 0 when
// absent. The annotation is a decoded JSON object on records read from the
// API and a whisk.Limits on records built in process.
func MemoryMB(a whisk.Activation) int {
	v := a.Annotations.Get("limits")
	if v == nil {
		return 0
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	var l whisk.Limits
	if json.Unmarshal(b, &l) != nil {
		return 0
	}
	return l.Memory
}

// Report returns the step report in a record's result, found either at the
// top level or inside an error object, and whether there is one.
func Report(a whisk.Activation) (hop.Report, bool) { return hop.ReportOfResult(a.Response.Result) }

// Interval is a half-open span of time [Start, End) in epoch ms.
type Interval struct{ Start, End int64 }

// Overlap is the total length of time covered by at least two intervals.
func Overlap(iv []Interval) int64 { return DoubleBilled(iv, nil) }

// isConductor says whether record a is a run of the named conductor.
func isConductor(a whisk.Activation, conductor string) bool {
	if conductor == "" {
		return false
	}
	if a.Name == conductor {
		return true
	}
	p, _ := a.Annotations.Get("path").(string)
	return p == conductor || (p != "" && len(p) > len(conductor) && p[len(p)-len(conductor)-1:] == "/"+conductor)
}

// Measure computes the metrics of one job.
func Measure(j Job) Metrics {
	var m Metrics
	m.Activations = len(j.Records)
	m.WaitingMS = j.WaitingMS
	var spans, waits []Interval
	if cw := conductorWaits(j); len(cw) > 0 {
		waits = append(waits, cw...)
		m.WaitingMS += DoubleBilled(nil, cw)
	}
	for _, a := range j.Records {
		if !Billed(a) {
			continue
		}
		m.Billed++
		d := a.Duration
		if d == 0 && a.End > a.Start {
			d = a.End - a.Start
		}
		m.BilledMS += d
		m.GBs += float64(d) / 1000 * float64(MemoryMB(a)) / 1024
		spans = append(spans, Interval{a.Start, a.End})
		if isConductor(a, j.Conductor) {
			m.ConductorMS += d
			continue
		}
		m.StepMS += d
		m.Hops++
		r, ok := Report(a)
		if !ok {
			// Killed without a report (e.g. past its time limit): all of
			// its time is lost work.
			if !a.Response.Success {
				m.WorkLostMS += d
			}
			continue
		}
		mt := r.Metrics
		m.WorkMS += mt.WorkMS
		m.WorkLostMS += mt.LostMS
		if mt.WaitMS > 0 {
			m.WaitingMS += mt.WaitMS
			waits = append(waits, Interval{mt.WaitStart, mt.WaitStart + mt.WaitMS})
		}
		m.Checkpoints += mt.Checkpoints
		m.CheckpointMS += mt.CheckpointMS
		m.CheckpointB += mt.ImageBytes
		m.RestoreMS += mt.RestoreMS
		if r.Status == hop.Done {
			m.Finals++
		}
	}
	if m.Finals > 1 {
		m.Duplicates = m.Finals - 1
	}
	if j.Parallel {
		spans = nil
	}
	m.DoubleBilledMS = DoubleBilled(spans, waits)
	return m
}

// conductorWaits are the spans during which a conductor run was billed
// while components it started ran: a component record that starts after
// a conductor run and ends before it. A conductor decides between
// components and the platform runs them after it returns, so a component
// inside a conductor run's span is one the conductor invoked itself and
// waited for (openwhisk-composer's parallel blocking on Redis, a wskx
// join: wait polling its store). A fan-out's branches overlap each other
// by design; this wait is the price of its join. The branches' own
// conductor runs are left out: the first of them overlaps the last
// milliseconds of the parent that started it, which is not a wait.
func conductorWaits(j Job) []Interval {
	var out []Interval
	for i, c := range j.Records {
		if !Billed(c) || !isConductor(c, j.Conductor) {
			continue
		}
		for k, a := range j.Records {
			if k != i && Billed(a) && !isConductor(a, j.Conductor) && a.Start >= c.Start && a.End <= c.End && a.End > a.Start {
				out = append(out, Interval{a.Start, a.End})
			}
		}
	}
	return out
}

// DoubleBilled is the time during which at least two billed spans overlap
// or a billed activation waits on another (a wait is billed time that buys
// no work, even when the activation it waits on has already ended). Time
// that is both is counted once.
func DoubleBilled(spans, waits []Interval) int64 {
	type edge struct {
		at         int64
		span, wait int
	}
	var edges []edge
	for _, i := range spans {
		if i.End > i.Start {
			edges = append(edges, edge{i.Start, +1, 0}, edge{i.End, -1, 0})
		}
	}
	for _, i := range waits {
		if i.End > i.Start {
			edges = append(edges, edge{i.Start, 0, +1}, edge{i.End, 0, -1})
		}
	}
	// Ends before starts at the same instant: touching spans do not overlap.
	sort.Slice(edges, func(a, b int) bool {
		if edges[a].at != edges[b].at {
			return edges[a].at < edges[b].at
		}
		return edges[a].span+edges[a].wait < edges[b].span+edges[b].wait
	})
	var total, prev int64
	open, waiting := 0, 0
	for _, e := range edges {
		if open >= 2 || waiting >= 1 {
			total += e.at - prev
		}
		open += e.span
		waiting += e.wait
		prev = e.at
	}
	return total
}
