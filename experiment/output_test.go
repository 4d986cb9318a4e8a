package experiment

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleResults() []Result {
	args := Case{"n": 30}
	return []Result{
		{Run: Run{Workload: "count", Policy: "deadline", Args: args, Repetition: 1}, Engine: "dmtcp", Success: true,
			Output: json.RawMessage(`{"count":30}`), ElapsedMS: 20000, Metrics: Metrics{Hops: 3, BilledMS: 21000, ConductorMS: 300}},
		{Run: Run{Workload: "count", Policy: "coop", Args: args, Repetition: 1}, Engine: "cooperative", Success: true,
			Output: json.RawMessage(`{"count":30}`), ElapsedMS: 20000, Metrics: Metrics{Hops: 3, BilledMS: 21000}},
		{Run: Run{Workload: "count", Policy: "single", Baseline: "single", Args: args, Repetition: 1}, Engine: "none", Success: true,
			Output: json.RawMessage(`{"count": 30}`), ElapsedMS: 18000, Metrics: Metrics{Hops: 1, BilledMS: 18000}},
		{Run: Run{Workload: "count", Policy: "self-invoke", Baseline: "self-invoke", Args: args, Repetition: 1}, Engine: "dmtcp", Success: true,
			Output: json.RawMessage(`{"count":30}`), ElapsedMS: 25000, Metrics: Metrics{Hops: 4, BilledMS: 26000, DoubleBilledMS: 120, Finals: 2, Duplicates: 1}},
	}
}

func TestVerdicts(t *testing.T) {
	want := map[string][]string{
		"deadline":    {"kept", "kept", "kept"},
		"coop":        {"kept", "violated", "kept"},
		"single":      {"kept", "kept", "kept"},
		"self-invoke": {"violated", "kept", "violated"},
	}
	for _, s := range Summarize(sampleResults()) {
		var got []string
		for _, v := range Verdicts(s) {
			got = append(got, mark(v))
		}
		if !reflect.DeepEqual(got, want[s.Policy]) {
			t.Errorf("%s: verdicts %v, want %v", s.Policy, got, want[s.Policy])
		}
	}
}

// fanoutResults are one case of the fan-out experiment: the same
// composition joined by waiting, by hand-over and by composer's Redis.
func fanoutResults() []Result {
	args := Case{"branches": 2}
	out := json.RawMessage(`{"branches":[0,1]}`)
	run := func(policy, baseline string) Run {
		return Run{Workload: "fanout", Policy: policy, Baseline: baseline, Args: args, Repetition: 1}
	}
	return []Result{
		{Run: run("wait", ""), Workflow: true, Success: true, Output: out, Blocking: true, Direct: true,
			Metrics: Metrics{BilledMS: 9400, WaitingMS: 3100, DoubleBilledMS: 3100}},
		{Run: run("handoff", ""), Workflow: true, Success: true, Output: out, Blocking: true,
			Metrics: Metrics{BilledMS: 6200}},
		{Run: run("wrong", ""), Workflow: true, Success: true, Output: json.RawMessage(`{"branches":[1,0]}`), Blocking: true, Direct: true,
			Metrics: Metrics{BilledMS: 6200}},
		{Run: run("composer", "composer"), Workflow: true, Success: true, Output: out, Blocking: true, Direct: true,
			Metrics: Metrics{BilledMS: 9500, WaitingMS: 3200, DoubleBilledMS: 3200}},
	}
}

func TestVerdictsFanOut(t *testing.T) {
	want := map[string][]string{
		"wait":     {"violated", "kept", "kept"},
		"handoff":  {"kept", "kept", "violated"}, // the blocking call answers with a pointer
		"wrong":    {"kept", "kept", "violated"}, // branches out of order
		"composer": {"violated", "kept", "kept"},
	}
	for _, s := range Summarize(fanoutResults()) {
		var got []string
		for _, v := range Verdicts(s) {
			got = append(got, mark(v))
		}
		if !reflect.DeepEqual(got, want[s.Policy]) {
			t.Errorf("%s: verdicts %v, want %v (%+v)", s.Policy, got, want[s.Policy], Verdicts(s))
		}
	}
}

func TestWriteResults(t *testing.T) {
	dir := t.TempDir()
	in := sampleResults()
	if err := WriteResults(dir, in); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResults(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) || got[3].Metrics != in[3].Metrics || got[0].Policy != "deadline" {
		t.Errorf("read back %+v", got)
	}
	csv, err := os.ReadFile(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(csv), "\n"); lines != len(in)+1 {
		t.Errorf("csv has %d lines, want %d", lines, len(in)+1)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestRegenerateKeepsProse(t *testing.T) {
	doc, err := os.ReadFile("testdata/doc.md")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Regenerate(doc, Regions("default", sampleResults()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "| self-invoke | violated: 120 ms billed twice") {
		t.Errorf("verdicts not rendered:\n%s", out)
	}
	// Everything outside the regions is unchanged, byte for byte.
	if prose(t, out) != prose(t, doc) {
		t.Errorf("prose changed:\n%q\nwas\n%q", prose(t, out), prose(t, doc))
	}
	again, err := Regenerate(out, Regions("default", sampleResults()))
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(out) {
		t.Error("regenerating twice is not stable")
	}
	if _, err := Regenerate([]byte("<!-- BEGIN GENERATED: default-summary -->\nx"), Regions("default", nil)); err == nil {
		t.Error("no error for a missing end marker")
	}
}

// prose is the document with the bodies of generated regions cut out.
func prose(t *testing.T, doc []byte) string {
	t.Helper()
	var b strings.Builder
	s := string(doc)
	for {
		i := strings.Index(s, "<!-- BEGIN GENERATED:")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.Index(s[i:], "-->")
		b.WriteString(s[:i+j+3])
		k := strings.Index(s[i:], "<!-- END GENERATED:")
		if k < 0 {
			t.Fatal("unbalanced markers")
		}
		s = s[i+k:]
	}
}

func TestPlotLinks(t *testing.T) {
	figs := []Figure{
		{File: "x-count-runs.svg", Title: "count: time", Setting: "x experiment", Reading: "Fastest: single."},
		{File: "x-billed.svg", Title: "billed", Setting: "5 runs", Reading: "Least: single."},
	}
	got, err := PlotLinks("docs", "docs/img", figs)
	if err != nil {
		t.Fatal(err)
	}
	want := "![x-count-runs](img/x-count-runs.svg)\n\n*count: time. x experiment.* Fastest: single.\n\n" +
		"![x-billed](img/x-billed.svg)\n\n*billed. 5 runs.* Least: single.\n\n"
	if got != want {
		t.Errorf("PlotLinks = %q, want %q", got, want)
	}
	doc := []byte("intro\n<!-- BEGIN GENERATED: default-plots -->\n<!-- END GENERATED: default-plots -->\noutro\n")
	out, err := Regenerate(doc, map[string]string{"default-plots": got})
	if err != nil {
		t.Fatal(err)
	}
	if prose(t, out) != prose(t, doc) || !strings.Contains(string(out), "(img/x-billed.svg)") {
		t.Errorf("plots region not regenerated cleanly:\n%s", out)
	}
}

func TestWorkloadTable(t *testing.T) {
	rs := sampleResults()
	rs = append(rs,
		Result{Run: Run{Workload: "race", Policy: "deadline", Args: Case{"n": 40}}, Metrics: Metrics{Finals: 1}},
		Result{Run: Run{Workload: "race", Policy: "self-invoke", Baseline: "self-invoke", Args: Case{"n": 40}}, Metrics: Metrics{Finals: 2, Duplicates: 1, DoubleBilledMS: 450}},
		Result{Run: Run{Workload: "race", Policy: "self-invoke", Baseline: "self-invoke", Args: Case{"n": 41}}, Metrics: Metrics{Finals: 2, Duplicates: 1, DoubleBilledMS: 300}},
	)
	got := Regions("default", rs)["default-workloads"]
	for _, want := range []string{
		"| policy | count: duplicates / runs | count: double-billed (ms) | race: duplicates / runs | race: double-billed (ms) |",
		"| deadline | 0 / 1 | 0 | 0 / 1 | 0 |",
		"| self-invoke | 1 / 1 | 120 | 2 / 2 | 750 |",
		"| coop | 0 / 1 | 0 | | |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing row %q in\n%s", want, got)
		}
	}
}

func TestCaseTable(t *testing.T) {
	rs := fanoutResults()
	second := rs[0]
	second.Repetition = 2
	second.ElapsedMS, second.Metrics.BilledMS, second.Metrics.WaitingMS = 4000, 9600, 3300
	rs = append(rs, second)
	got := Regions("fanout", rs)["fanout-cases"]
	for _, want := range []string{
		"| workload | arguments | policy | runs | mean time (s) | mean billed (s) | mean waiting (s) |",
		"| fanout | `{\"branches\":2}` | wait | 2 | 2.00 | 9.50 | 3.20 |",
		"| fanout | `{\"branches\":2}` | handoff | 1 | 0.00 | 6.20 | 0.00 |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing row %q in\n%s", want, got)
		}
	}
}
