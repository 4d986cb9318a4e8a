package platform

import (
	"os"
	"os/exec"
	"testing"

	"github.com/wskx/wskx/internal/npmtest"
	"github.com/wskx/wskx/platform/container"
	"github.com/wskx/wskx/whisk"
)

// The conductor of OpenWhisk's conductor documentation and its two
// components, as nodejs actions.
const (
	tripleAndIncrementJS = `function main(params) {
    let step = params.$step || 0
    delete params.$step
    switch (step) {
        case 0: return { action: 'triple', params, state: { $step: 1 } }
        case 1: return { action: 'increment', params, state: { $step: 2 } }
        case 2: return { params }
    }
}`
	tripleJS    = `function main({ value }) { return { value: value * 3 } }`
	incrementJS = `function main({ value }) { return { value: value + 1 } }`
)

func nodeAction(code string) *whisk.Action {
	return &whisk.Action{Exec: &whisk.Exec{Kind: "nodejs:20", Code: code}}
}

// TestTripleAndIncrement reproduces the example of OpenWhisk's conductor
// documentation and checks every activation record it leaves.
func TestTripleAndIncrement(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: nodejs actions cannot run")
	}
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	c := env.c
	cond := nodeAction(tripleAndIncrementJS)
	cond.Annotations = whisk.KeyValues{{Key: "conductor", Value: true}}
	mustPut(t, c, "tripleAndIncrement", cond)
	mustPut(t, c, "triple", nodeAction(tripleJS))
	inc := nodeAction(incrementJS)
	inc.Limits = &whisk.Limits{Memory: 512}
	mustPut(t, c, "increment", inc)

	for round, cold := range []bool{true, false} {
		inv, err := c.Invoke(ctx, "tripleAndIncrement", map[string]any{"value": 3}, whisk.InvokeOptions{Blocking: true})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		p := inv.Activation
		jsonEqual(t, p.Response.Result, `{"value":10}`)
		if p.Response.Status != "success" || p.Name != "tripleAndIncrement" || p.Namespace != "guest" {
			t.Errorf("primary %+v", p)
		}
		recs := checkDerived(t, c, p, 5)
		for k, want := range map[string]any{"conductor": true, "kind": "sequence", "path": "guest/tripleAndIncrement", "topmost": true} {
			if v, _ := annotation(p, k); v != want {
				t.Errorf("primary annotation %s = %v, want %v", k, v, want)
			}
		}
		if m := limitsMemory(t, p); m != 512 {
			t.Errorf("primary limits memory %v, want the max 512", m)
		}
		want := []struct{ name, result string }{
			{"tripleAndIncrement", `{"action":"triple","params":{"value":3},"state":{"$step":1}}`},
			{"triple", `{"value":9}`},
			{"tripleAndIncrement", `{"action":"increment","params":{"value":9},"state":{"$step":2}}`},
			{"increment", `{"value":10}`},
			{"tripleAndIncrement", `{"params":{"value":10}}`},
		}
		for i, d := range recs {
			if d.Name != want[i].name || d.Response.Status != "success" {
				t.Errorf("derived %d: %s %s, want %s success", i, d.Name, d.Response.Status, want[i].name)
			}
			jsonEqual(t, d.Response.Result, want[i].result)
			if v, _ := annotation(d, "kind"); v != "nodejs:20" {
				t.Errorf("derived %d kind %v", i, v)
			}
			if v, _ := annotation(d, "path"); v != "guest/"+want[i].name {
				t.Errorf("derived %d path %v", i, v)
			}
			if d.End < d.Start || d.Start < p.Start {
				t.Errorf("derived %d times %d..%d, primary starts %d", i, d.Start, d.End, p.Start)
			}
			// Each action's first activation starts its container; the
			// conductor's later runs and the second round find it warm.
			_, hasInit := annotation(d, "initTime")
			if wantInit := cold && i <= 3 && i != 2; hasInit != wantInit {
				t.Errorf("round %d derived %d (%s): initTime present %v, want %v", round, i, d.Name, hasInit, wantInit)
			}
		}
	}
}

// TestRequireOpenwhisk: a nodejs action requires the openwhisk client as
// on OpenWhisk's nodejs runtimes, from the pool's configured node path
// (scripts/npmtools.sh installs it), and the client it builds from the
// activation's environment reaches this platform.
func TestRequireOpenwhisk(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: nodejs actions cannot run")
	}
	dir, err := npmtest.NodePath()
	if err != nil {
		t.Skip(err)
	}
	pool, err := container.NewPool(container.Config{Wskx: os.Args[0], CacheDir: t.TempDir(), NodePath: dir,
		NPM: "/nonexistent/npm", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	env := startPlatform(t, Config{Runner: pool})
	ctx := ctxT(t)
	mustPut(t, env.c, "hello", nodeAction(`function main() { return {hello: 'world'} }`))
	// provide-api-key gives the action __OW_API_KEY, as composer's
	// conductors ask.
	a := nodeAction(`const openwhisk = require('openwhisk')
function main() {
  return openwhisk().actions.invoke({name: 'hello', blocking: true, result: true})
    .then(r => ({type: typeof openwhisk, version: require('openwhisk/package.json').version, hello: r.hello}))
}`)
	a.Annotations = whisk.KeyValues{{Key: "provide-api-key", Value: true}}
	mustPut(t, env.c, "typeof", a)
	inv, err := env.c.Invoke(ctx, "typeof", nil, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Activation.Response.Result, `{"type":"function","version":"`+container.OpenWhiskNPMVersion+`","hello":"world"}`)
}
