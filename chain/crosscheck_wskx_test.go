package chain_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/composer"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

// crosscheckWskx loads NAME.yaml as a wskx workflow, deploys it as
// wx-NAME, invokes it with each input of the case and requires the result
// composer's conductor gave (got, in the order of c.Runs), less the chain
// summary under $wskx, and the same activation status.
func crosscheckWskx(t *testing.T, ctx context.Context, e *env, c crossCase, got []crossResult) {
	t.Run("wskx", func(t *testing.T) {
		w, err := policies.LoadWorkflow(filepath.Join(crossDir, c.Name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := composer.CompileWorkflow(w, composer.Options{Name: "wx-" + c.Name})
		if err != nil {
			t.Fatal(err)
		}
		if err := chain.Deploy(ctx, e.api, plan); err != nil {
			t.Fatal(err)
		}
		for j, r := range c.Runs {
			res := invokeCross(t, ctx, e.api, "wx-"+c.Name, r.Input)
			var m map[string]any
			if err := json.Unmarshal(res.Result, &m); err != nil {
				t.Fatalf("wx-%s result %s: %v", c.Name, res.Result, err)
			}
			delete(m, hop.StateKey)
			own, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			in, _ := json.Marshal(r.Input)
			if !jsonSame(own, got[j].Result) {
				t.Errorf("input %s: wskx gives %s, composer %s", in, own, got[j].Result)
			}
			if res.Status != got[j].Status {
				t.Errorf("input %s: wskx status %q, composer %q", in, res.Status, got[j].Status)
			}
		}
	})
}
