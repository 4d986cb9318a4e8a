package platform

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// TestEventsPersist restarts a platform on its data: triggers keep their
// parameters and rules' links, rules their status, and a deleted rule
// stays deleted.
func TestEventsPersist(t *testing.T) {
	dir := t.TempDir()
	runner := newPool(t)
	p, c := openOn(t, dir, runner)
	mustPut(t, c, "echo", testAction("echo"))
	mustTrigger(t, c, "t", &whisk.Trigger{Parameters: whisk.KeyValues{{Key: "k", Value: "v"}}})
	mustRule(t, c, "on", "t", "echo")
	mustRule(t, c, "off", "t", "echo")
	mustRule(t, c, "gone", "t", "echo")
	if err := c.SetRuleState(ctxT(t), "off", whisk.RuleInactive); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRule(ctxT(t), "gone"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	for _, f := range []string{"triggers/guest/t.json", "rules/guest/on.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data file: %v", err)
		}
	}

	p, c = openOn(t, dir, runner)
	defer p.Close()
	tr, err := c.GetTrigger(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Parameters.Get("k") != "v" || len(tr.Rules) != 2 || tr.Rules["guest/on"].Status != whisk.RuleActive ||
		tr.Rules["guest/off"].Status != whisk.RuleInactive {
		t.Errorf("trigger after restart %+v", tr)
	}
	for name, want := range map[string]string{"on": whisk.RuleActive, "off": whisk.RuleInactive} {
		if r, err := c.GetRule(ctxT(t), name); err != nil || r.Status != want {
			t.Errorf("rule %s after restart: %+v, %v", name, r, err)
		}
	}
	if _, err := c.GetRule(ctxT(t), "gone"); !whisk.IsNotFound(err) {
		t.Errorf("deleted rule after restart: %v", err)
	}
	id, err := c.FireTrigger(ctxT(t), "t", nil)
	if err != nil || id == "" {
		t.Fatalf("fire after restart: %q, %v", id, err)
	}
	if lines := ruleLines(t, waitActivation(t, c, id)); len(lines) != 2 || !lines[1].Success {
		t.Errorf("fire after restart: %+v", lines)
	}
}
