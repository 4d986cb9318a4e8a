package experiment

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"text/tabwriter"
)

// WriteResults writes results.json and results.csv into dir, each through
// a temporary file renamed into place, so a reader never sees half a file.
func WriteResults(dir string, results []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	js, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, "results.json"), append(js, '\n')); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, results); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "results.csv"), b.Bytes())
}

// ReadResults reads a results.json.
func ReadResults(path string) ([]Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var out []Result
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	return out, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

var csvHeader = []string{"workload", "policy", "baseline", "args", "repetition", "engine", "success", "status",
	"elapsed_ms", "invocations", "activations", "hops", "billed_ms", "gb_s", "conductor_ms", "step_ms",
	"double_billed_ms", "waiting_ms", "finals", "duplicates", "work_ms", "work_lost_ms", "checkpoints",
	"checkpoint_ms", "checkpoint_bytes", "restore_ms", "output", "error"}

// WriteCSV writes one row per run.
func WriteCSV(w io.Writer, results []Result) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	i := strconv.FormatInt
	for _, r := range results {
		args, _ := json.Marshal(r.Args)
		m := r.Metrics
		_ = cw.Write([]string{r.Workload, r.Policy, r.Baseline, string(args), strconv.Itoa(r.Repetition), r.Engine,
			strconv.FormatBool(r.Success), r.Status, i(r.ElapsedMS, 10), strconv.Itoa(r.Invocations),
			strconv.Itoa(m.Activations), strconv.Itoa(m.Hops), i(m.BilledMS, 10), strconv.FormatFloat(m.GBs, 'f', 3, 64),
			i(m.ConductorMS, 10), i(m.StepMS, 10), i(m.DoubleBilledMS, 10), i(m.WaitingMS, 10),
			strconv.Itoa(m.Finals), strconv.Itoa(m.Duplicates), i(m.WorkMS, 10), i(m.WorkLostMS, 10),
			strconv.Itoa(m.Checkpoints), i(m.CheckpointMS, 10), i(m.CheckpointB, 10), i(m.RestoreMS, 10),
			string(r.Output), r.Error})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// Summary aggregates one policy's (or baseline's) runs.
type Summary struct {
	Policy          string
	Runs, Failed    int
	Engine          string
	MeanElapsedMS   float64
	MeanHops        float64
	BilledMS        int64
	ConductorMS     int64
	DoubleBilledMS  int64
	WaitingMS       int64
	Duplicates      int
	WorkLostMS      int64
	Compared, Equal int // runs whose output was compared with the reference's, and how many matched
	// Reference is the baseline whose results the others are compared
	// with: single for jobs, composer for workflows.
	Reference string
	Workflow  bool
	// Blocking runs were started with a blocking invoke; Direct of them
	// had the final result as that call's answer.
	Blocking, Direct int
}

// referenceOf is the baseline a workload's results are compared with:
// the single baseline where the experiment has one, else the composer
// baseline (the same composition on openwhisk-composer's conductor).
func referenceOf(results []Result, workload string) string {
	ref := ""
	for _, r := range results {
		if r.Workload != workload {
			continue
		}
		switch r.Baseline {
		case BaselineSingle:
			return BaselineSingle
		case BaselineComposer:
			ref = BaselineComposer
		}
	}
	return ref
}

// Summarize aggregates results per policy, in first-seen order.
func Summarize(results []Result) []Summary {
	ref := map[string]json.RawMessage{}
	refName := map[string]string{}
	key := func(r Result) string {
		a, _ := json.Marshal(r.Args)
		return r.Workload + "\x00" + string(a) + "\x00" + strconv.Itoa(r.Repetition)
	}
	for _, r := range results {
		if _, ok := refName[r.Workload]; !ok {
			refName[r.Workload] = referenceOf(results, r.Workload)
		}
		if r.Baseline != "" && r.Baseline == refName[r.Workload] && r.Success && r.Error == "" {
			ref[key(r)] = r.Output
		}
	}
	idx := map[string]int{}
	var out []Summary
	for _, r := range results {
		i, ok := idx[r.Policy]
		if !ok {
			i = len(out)
			idx[r.Policy] = i
			out = append(out, Summary{Policy: r.Policy})
		}
		s := &out[i]
		s.Runs++
		if !r.Success || r.Error != "" {
			s.Failed++
		}
		if r.Engine != "" {
			s.Engine = r.Engine
		}
		m := r.Metrics
		s.MeanElapsedMS += float64(r.ElapsedMS)
		s.MeanHops += float64(m.Hops)
		s.BilledMS += m.BilledMS
		s.ConductorMS += m.ConductorMS
		s.DoubleBilledMS += m.DoubleBilledMS
		s.WaitingMS += m.WaitingMS
		s.Duplicates += m.Duplicates
		s.WorkLostMS += m.WorkLostMS
		s.Workflow = s.Workflow || r.Workflow
		if r.Blocking {
			s.Blocking++
			if r.Direct {
				s.Direct++
			}
		}
		if r.Baseline != "" && r.Baseline == refName[r.Workload] {
			s.Reference = r.Baseline
		}
		if want, ok := ref[key(r)]; ok && r.Baseline != refName[r.Workload] {
			s.Compared++
			if sameJSON(want, r.Output) && m.Duplicates == 0 {
				s.Equal++
			}
		}
	}
	for i := range out {
		out[i].MeanElapsedMS /= float64(out[i].Runs)
		out[i].MeanHops /= float64(out[i].Runs)
	}
	return out
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Verdict is one trilemma property for one policy, with the measured
// figure it rests on.
type Verdict struct {
	Property string // double billing, black box, substitution
	Kept     bool
	Known    bool // false when nothing was measured to decide
	Evidence string
}

// Verdicts judges the three properties for one policy's summary.
func Verdicts(s Summary) []Verdict {
	db := Verdict{Property: "double billing", Known: s.Runs > 0,
		Kept:     s.DoubleBilledMS == 0 && s.WaitingMS == 0,
		Evidence: fmt.Sprintf("%d ms billed twice, %d ms billed while waiting, over %d runs", s.DoubleBilledMS, s.WaitingMS, s.Runs)}
	bb := Verdict{Property: "black box", Known: s.Engine != ""}
	switch s.Engine {
	case "dmtcp", "none":
		bb.Kept = true
		bb.Evidence = fmt.Sprintf("engine %s ran the unmodified binary", s.Engine)
	case "cooperative":
		bb.Evidence = "engine cooperative needs the job to save its state on SIGTERM/SIGUSR1"
	case "":
		if s.Workflow {
			// No job ran under an engine: the composition's actions are
			// used as they are.
			bb.Known, bb.Kept = s.Runs > 0, true
			bb.Evidence = "the composition's actions ran as they are"
			break
		}
		fallthrough
	default:
		bb.Evidence = "no hop reported its engine"
	}
	ref := "single"
	if s.Workflow {
		ref = "composer"
	}
	sub := Verdict{Property: "substitution", Known: s.Compared > 0, Kept: s.Compared > 0 && s.Equal == s.Compared,
		Evidence: fmt.Sprintf("%d of %d results equal to the %s baseline's, %d duplicate results", s.Equal, s.Compared, ref, s.Duplicates)}
	if s.Reference != "" {
		sub = Verdict{Property: "substitution", Known: true, Kept: true, Evidence: "the reference itself"}
	}
	if s.Blocking > 0 {
		// A caller that has to follow a pointer to get the result is not
		// invoking a plain action.
		sub.Known = sub.Known || s.Reference != ""
		sub.Kept = sub.Kept && s.Direct == s.Blocking
		sub.Evidence += fmt.Sprintf("; %d of %d blocking invokes answered with the result", s.Direct, s.Blocking)
	}
	return []Verdict{db, bb, sub}
}

func mark(v Verdict) string {
	switch {
	case !v.Known:
		return "unknown"
	case v.Kept:
		return "kept"
	default:
		return "violated"
	}
}

// WriteSummary prints a table per policy and the verdicts.
func WriteSummary(w io.Writer, results []Result) error {
	sums := Summarize(results)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\truns\tfailed\tengine\tmean s\tmean hops\tbilled s\tconductor ms\tdouble-billed ms\twaiting ms\tduplicates\tlost work ms\t")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.1f\t%.1f\t%.1f\t%d\t%d\t%d\t%d\t%d\t\n", s.Policy, s.Runs, s.Failed, s.Engine,
			s.MeanElapsedMS/1000, s.MeanHops, float64(s.BilledMS)/1000, s.ConductorMS,
			s.DoubleBilledMS, s.WaitingMS, s.Duplicates, s.WorkLostMS)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, s := range sums {
		for _, v := range Verdicts(s) {
			fmt.Fprintf(w, "%-12s %-15s %-8s %s\n", s.Policy, v.Property, mark(v), v.Evidence)
		}
	}
	return nil
}

// distinct lists the different values of key over results, sorted.
func distinct(results []Result, key func(Result) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range results {
		if k := key(r); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
