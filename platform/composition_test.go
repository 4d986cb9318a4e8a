package platform

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

func seqAction(components ...string) *whisk.Action {
	return &whisk.Action{Exec: &whisk.Exec{Kind: "sequence", Components: components}}
}

func conductorAction() *whisk.Action {
	a := testAction("conductor")
	a.Annotations = whisk.KeyValues{{Key: "conductor", Value: true}}
	return a
}

// checkDerived checks the records a primary record lists in its logs and
// returns them.
func checkDerived(t *testing.T, c *whisk.Client, primary *whisk.Activation, wantLogs int) []*whisk.Activation {
	t.Helper()
	if len(primary.Logs) != wantLogs {
		t.Fatalf("primary logs %v, want %d ids", primary.Logs, wantLogs)
	}
	var recs []*whisk.Activation
	var sum int64
	for _, id := range primary.Logs {
		d := mustGetActivation(t, c, id)
		if d.Cause != primary.ActivationID {
			t.Errorf("derived %s cause %q, want %s", id, d.Cause, primary.ActivationID)
		}
		if v, _ := annotation(d, "causedBy"); v != "sequence" {
			t.Errorf("derived %s causedBy %v", id, v)
		}
		for _, k := range []string{"waitTime", "path", "kind", "limits"} {
			if _, ok := annotation(d, k); !ok {
				t.Errorf("derived %s lacks annotation %s", id, k)
			}
		}
		sum += d.Duration
		recs = append(recs, d)
	}
	if primary.Duration != sum {
		t.Errorf("primary duration %d, want the sum %d", primary.Duration, sum)
	}
	if v, _ := annotation(primary, "topmost"); v != true {
		t.Errorf("topmost %v", v)
	}
	if v, _ := annotation(primary, "kind"); v != "sequence" {
		t.Errorf("kind %v", v)
	}
	if _, ok := annotation(primary, "waitTime"); !ok {
		t.Error("primary lacks waitTime")
	}
	if primary.Cause != "" {
		t.Errorf("top-level primary has cause %q", primary.Cause)
	}
	return recs
}

func limitsMemory(t *testing.T, a *whisk.Activation) float64 {
	t.Helper()
	v, _ := annotation(a, "limits")
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("limits annotation %v", v)
	}
	f, _ := m["memory"].(float64)
	return f
}

func TestSequence(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	c := env.c
	big := testAction("step")
	big.Limits = &whisk.Limits{Memory: 512}
	mustPut(t, c, "step", testAction("step"))
	mustPutPackage(t, c, "pkg", nil)
	mustPut(t, c, "pkg/bigstep", big)
	mustPut(t, c, "fail", testAction("fail"))
	mustPut(t, c, "inc3", seqAction("step", "/_/pkg/bigstep", "/guest/step"))
	mustPut(t, c, "nested", seqAction("inc3", "step"))
	mustPut(t, c, "broken", seqAction("step", "fail", "step"))

	inv, err := c.Invoke(ctx, "inc3", map[string]any{"n": 1}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	p := inv.Activation
	jsonEqual(t, p.Response.Result, `{"n":4}`)
	recs := checkDerived(t, c, p, 3)
	if _, conductor := annotation(p, "conductor"); conductor {
		t.Error("a sequence record has the conductor annotation")
	}
	if m := limitsMemory(t, p); m != 512 {
		t.Errorf("limits memory %v, want the max 512", m)
	}
	if v, _ := annotation(recs[1], "path"); v != "guest/pkg/bigstep" {
		t.Errorf("component path %v", v)
	}

	inv, err = c.Invoke(ctx, "nested", map[string]any{"n": 0}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Activation.Response.Result, `{"n":4}`)
	recs = checkDerived(t, c, inv.Activation, 2)
	if len(recs[0].Logs) != 3 || recs[0].Cause != inv.ActivationID {
		t.Errorf("nested sequence record %+v", recs[0])
	}
	if v, _ := annotation(recs[0], "topmost"); v != false {
		t.Errorf("nested topmost %v", v)
	}

	inv, err = c.Invoke(ctx, "broken", map[string]any{"n": 0}, whisk.InvokeOptions{Blocking: true})
	apiErr(t, err, http.StatusBadGateway)
	if inv.Activation.Response.Status != "application error" || len(inv.Activation.Logs) != 2 {
		t.Errorf("broken sequence %+v", inv.Activation)
	}
	jsonEqual(t, inv.Activation.Response.Result, `{"error":"failed on purpose"}`)
}

func TestSequenceLengthLimit(t *testing.T) {
	const n = 4
	env := startPlatform(t, Config{LengthLimit: n})
	ctx := ctxT(t)
	mustPut(t, env.c, "step", testAction("step"))
	comps := func(k int) []string {
		var out []string
		for range k {
			out = append(out, "step")
		}
		return out
	}
	inv, err := env.c.Invoke(ctx, "step", nil, whisk.InvokeOptions{Blocking: true})
	if err != nil || inv.Activation == nil {
		t.Fatal(err)
	}
	mustPut(t, env.c, "full", seqAction(comps(n)...))
	inv, err = env.c.Invoke(ctx, "full", map[string]any{"n": 0}, whisk.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Result, fmt.Sprintf(`{"n":%d}`, n))
	_, err = env.c.PutAction(ctx, "over", seqAction(comps(n+1)...), true)
	if ae := apiErr(t, err, http.StatusBadRequest); ae.Message != "Too many actions in the sequence." {
		t.Errorf("message %q", ae.Message)
	}
	// Inlined nested sequences count too.
	mustPut(t, env.c, "half", seqAction(comps(n/2)...))
	mustPut(t, env.c, "twohalves", seqAction("half", "half"))
	_, err = env.c.PutAction(ctx, "over", seqAction("half", "half", "step"), true)
	if ae := apiErr(t, err, http.StatusBadRequest); ae.Message != "Too many actions in the sequence." {
		t.Errorf("nested message %q", ae.Message)
	}
	// Growing a nested sequence afterwards is caught when the outer one runs.
	mustPut(t, env.c, "half", seqAction(comps(n/2+1)...))
	inv, err = env.c.Invoke(ctx, "twohalves", map[string]any{"n": 0}, whisk.InvokeOptions{Blocking: true})
	apiErr(t, err, http.StatusBadGateway)
	jsonEqual(t, inv.Activation.Response.Result, `{"error":"Too many actions in the sequence."}`)
	if inv.Activation.Response.Status != "application error" || len(inv.Activation.Logs) != 2 {
		t.Errorf("run-time length breach: %+v", inv.Activation)
	}
}

func TestConductor(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	c := env.c
	mustPut(t, c, "conductor", conductorAction())
	big := testAction("step")
	big.Limits = &whisk.Limits{Memory: 512}
	mustPut(t, c, "step", big)
	mustPut(t, c, "echo", testAction("echo"))
	mustPut(t, c, "fail", testAction("fail"))

	tests := []struct {
		name    string
		params  map[string]any
		status  string
		result  string
		logs    int
		memory  float64
		errCode int
	}{
		{"no action", map[string]any{"params": map[string]any{"n": 1}}, "success", `{"n":1}`, 1, 256, 0},
		{"one step", map[string]any{"action": "step", "params": map[string]any{"n": 1}}, "success", `{}`, 3, 512, 0},
		{"result through params", map[string]any{"action": "echo", "params": map[string]any{"params": map[string]any{"n": 2}}}, "success", `{"n":2}`, 3, 256, 0},
		{"state merged", map[string]any{"action": "/_/echo", "params": map[string]any{"foo": "x", "n": 1}, "state": map[string]any{"params": map[string]any{"from": "state"}}},
			"success", `{"foo":"x","from":"state"}`, 3, 256, 0},
		{"unknown action", map[string]any{"action": "missing"}, "application error",
			`{"error":"Failed to resolve action with name 'guest/missing' during composition."}`, 2, 256, 502},
		{"bad name", map[string]any{"action": 42}, "application error",
			`{"error":"Failed to parse action name from json value 42 during composition."}`, 2, 256, 502},
		{"too many segments", map[string]any{"action": "/a/b/c/d"}, "application error",
			`{"error":"Failed to parse action name from json value \"/a/b/c/d\" during composition."}`, 2, 256, 502},
		{"forbidden", map[string]any{"action": "/other/x"}, "application error",
			`{"error":"Failed entitlement check for action with name 'other/x' during composition."}`, 2, 256, 502},
		{"failing component", map[string]any{"action": "fail"}, "application error", `{"error":"failed on purpose"}`, 3, 256, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := c.Invoke(ctx, "conductor", tt.params, whisk.InvokeOptions{Blocking: true})
			if tt.errCode != 0 {
				apiErr(t, err, tt.errCode)
			} else if err != nil {
				t.Fatal(err)
			}
			p := inv.Activation
			if p.Response.Status != tt.status {
				t.Errorf("status %q, want %q", p.Response.Status, tt.status)
			}
			jsonEqual(t, p.Response.Result, tt.result)
			recs := checkDerived(t, c, p, tt.logs)
			if v, _ := annotation(p, "conductor"); v != true {
				t.Errorf("conductor annotation %v", v)
			}
			if m := limitsMemory(t, p); m != tt.memory {
				t.Errorf("limits memory %v, want %v", m, tt.memory)
			}
			for i, d := range recs {
				wantName := "conductor"
				if i%2 == 1 && tt.logs%2 == 1 {
					wantName = strings.TrimPrefix(fmt.Sprint(tt.params["action"]), "/_/")
				}
				if d.Name != wantName {
					t.Errorf("derived %d is %s, want %s", i, d.Name, wantName)
				}
			}
		})
	}
}

// chain returns conductor parameters that run step k times: each state
// holds the next continuation.
func chain(k int) map[string]any {
	var state map[string]any
	for range k - 1 {
		s := map[string]any{"action": "step"}
		if state != nil {
			s["state"] = state
		}
		state = s
	}
	p := map[string]any{"action": "step", "params": map[string]any{"n": 0}}
	if state != nil {
		p["state"] = state
	}
	return p
}

func TestConductorLengthLimit(t *testing.T) {
	const n = 5
	env := startPlatform(t, Config{LengthLimit: n})
	ctx := ctxT(t)
	c := env.c
	mustPut(t, c, "conductor", conductorAction())
	mustPut(t, c, "step", testAction("step"))
	mustPutPackage(t, c, "pkg", nil)
	mustPut(t, c, "pkg/conductor", conductorAction())

	inv, err := c.Invoke(ctx, "conductor", chain(n), whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	checkDerived(t, c, inv.Activation, 2*n+1)
	jsonEqual(t, inv.Activation.Response.Result, `{}`)

	inv, err = c.Invoke(ctx, "conductor", chain(n+1), whisk.InvokeOptions{Blocking: true})
	apiErr(t, err, http.StatusBadGateway)
	checkDerived(t, c, inv.Activation, 2*n+2)
	jsonEqual(t, inv.Activation.Response.Result, `{"error":"Too many actions in the composition."}`)

	// A nested conductor shares the counters: the outer conductor runs the
	// inner one, which runs n steps, then the outer one asks for one more.
	params := chain(n)
	outer := map[string]any{"action": "pkg/conductor", "params": params, "state": map[string]any{"action": "step"}}
	inv, err = c.Invoke(ctx, "conductor", outer, whisk.InvokeOptions{Blocking: true})
	apiErr(t, err, http.StatusBadGateway)
	recs := checkDerived(t, c, inv.Activation, 4)
	jsonEqual(t, inv.Activation.Response.Result, `{"error":"Too many actions in the composition."}`)
	nested := recs[1]
	if nested.Name != "conductor" || len(nested.Logs) != 2*n+1 || nested.Cause != inv.ActivationID {
		t.Errorf("nested composition record: name %s, %d logs, cause %s", nested.Name, len(nested.Logs), nested.Cause)
	}
	if v, _ := annotation(nested, "topmost"); v != false {
		t.Errorf("nested topmost %v", v)
	}
}

func TestConductorBoxing(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	mustPut(t, env.c, "conductor", conductorAction())
	mustPut(t, env.c, "echo", testAction("echo"))
	// A non-object state comes back to the conductor as {"state": v}, on
	// top of the component's result.
	inv, err := env.c.Invoke(ctx, "conductor", map[string]any{"action": "echo", "state": 5, "params": map[string]any{"k": 1}},
		whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	recs := checkDerived(t, env.c, inv.Activation, 3)
	jsonEqual(t, recs[0].Response.Result, `{"action":"echo","state":5,"params":{"k":1}}`)
	jsonEqual(t, recs[1].Response.Result, `{"k":1}`)
	jsonEqual(t, recs[2].Response.Result, `{"state":5,"params":{}}`)
	jsonEqual(t, inv.Activation.Response.Result, `{}`)
}
