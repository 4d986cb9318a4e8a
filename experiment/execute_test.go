package experiment

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fixedDriver answers every run at once, failing the runs of one policy.
type fixedDriver struct{ failing string }

func (d fixedDriver) Run(_ context.Context, r Run) (Result, error) {
	if r.Policy == d.failing {
		return Result{Run: r}, errors.New("no platform")
	}
	return Result{Run: r, Success: true, Status: "success", ElapsedMS: 12}, nil
}

// TestExecuteProgress: a line per run with how many of how many are done,
// the time so far and an estimate of the time left; a failed run is
// recorded with its error and the experiment goes on.
func TestExecuteProgress(t *testing.T) {
	f, err := LoadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	saves := 0
	results, err := Execute(context.Background(), f, fixedDriver{failing: "coop"}, &progress, func([]Result) error { saves++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	runs := len(f.Runs())
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(results) != runs || len(lines) != runs || saves != runs {
		t.Fatalf("%d results, %d lines, %d saves for %d runs", len(results), len(lines), saves, runs)
	}
	line := regexp.MustCompile(`^\[(\d+)/(\d+)\] \S+ \S+ map\[.*\] rep \d+: .*, \d+ ms, \d+ hops \(elapsed \d+s, ETA \d+s\)$`)
	for i, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %d %q is not a progress line", i, l)
		}
		if m[1] != strconv.Itoa(i+1) || m[2] != strconv.Itoa(runs) {
			t.Errorf("line %d counts %s of %s, want %d of %d", i, m[1], m[2], i+1, runs)
		}
	}
	failed := 0
	for _, r := range results {
		if r.Error != "" {
			failed++
		}
	}
	if !strings.Contains(progress.String(), "error: no platform") || failed == 0 {
		t.Errorf("a failing run is not reported: %d failed", failed)
	}
}
