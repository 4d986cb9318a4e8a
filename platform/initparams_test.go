package platform

import (
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// initParams are an action's parameters with init ones of every JSON type.
func initParams() whisk.KeyValues {
	return whisk.KeyValues{
		{Key: "S", Value: "hello", Init: true},
		{Key: "N", Value: json.Number("42"), Init: true},
		{Key: "B", Value: true, Init: true},
		{Key: "O", Value: map[string]any{"a": 1}, Init: true},
		{Key: "Z", Value: nil, Init: true},
		{Key: "plain", Value: "p"},
	}
}

// TestInitParameters checks OpenWhisk's init parameters: stored as given,
// in the container's environment from /init, never in the input.
func TestInitParameters(t *testing.T) {
	// The native script reports the variables and its input; the object
	// one is compared in the shell since its JSON text has quotes.
	native := "#!/bin/sh\n" +
		`o=false; [ "$O" = '{"a":1}' ] && o=true` + "\n" +
		`printf '{"env":{"S":"%s","N":"%s","B":"%s","O":%s,"Z":"%s","Zset":"%s"},"input":%s}\n' "$S" "$N" "$B" "$o" "$Z" "${Z+set}" "$1"` + "\n"
	node := `function main(p) {
  const e = process.env
  return { env: { S: e.S, N: e.N, B: e.B, O: e.O === '{"a":1}', Z: e.Z, Zset: 'Z' in e ? 'set' : '' }, input: p }
}`
	kinds := []struct {
		name string
		exec *whisk.Exec
		need string // a command the kind needs
	}{
		{name: "native", exec: &whisk.Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton", Code: zipExec(t, native)}},
		{name: "nodejs", exec: &whisk.Exec{Kind: "nodejs:20", Code: node}, need: "node"},
	}
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			if k.need != "" {
				if _, err := exec.LookPath(k.need); err != nil {
					t.Skipf("%s is not installed", k.need)
				}
			}
			name := "init-" + k.name
			created := mustPut(t, env.c, name, &whisk.Action{Exec: k.exec, Parameters: initParams()})
			got, err := env.c.GetAction(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []*whisk.Action{created, got} {
				b, _ := json.Marshal(a.Parameters)
				want, _ := json.Marshal(initParams())
				if string(b) != string(want) {
					t.Errorf("stored parameters %s, want %s", b, want)
				}
			}
			cases := []struct {
				name    string
				payload map[string]any
				wantS   string
				input   string
			}{
				{name: "cold", payload: map[string]any{"n": 1}, wantS: "hello", input: `{"n":1,"plain":"p"}`},
				{name: "warm", payload: map[string]any{"n": 2}, wantS: "hello", input: `{"n":2,"plain":"p"}`},
				// A payload value for an init key goes to the environment too,
				// so it needs a container of its own.
				{name: "overridden", payload: map[string]any{"n": 3, "S": "other"}, wantS: "other", input: `{"n":3,"plain":"p"}`},
				{name: "default again", payload: map[string]any{"n": 4}, wantS: "hello", input: `{"n":4,"plain":"p"}`},
			}
			for _, c := range cases {
				inv, err := env.c.Invoke(ctx, name, c.payload, whisk.InvokeOptions{Blocking: true, Result: true})
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				res := resultMap(t, inv.Result)
				e, _ := res["env"].(map[string]any)
				want := map[string]any{"S": c.wantS, "N": "42", "B": "true", "O": true, "Z": "", "Zset": "set"}
				for key, v := range want {
					if e[key] != v {
						t.Errorf("%s: env %s = %#v, want %#v", c.name, key, e[key], v)
					}
				}
				in, _ := json.Marshal(res["input"])
				jsonEqual(t, in, c.input)
			}
		})
	}
}
