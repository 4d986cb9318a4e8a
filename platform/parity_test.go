package platform

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// TestExecAsOpenWhiskStoresIt creates actions the way wsk and
// openwhisk-client-js send them (never with binary) and reads back what
// OpenWhisk's Exec.scala would store and answer: the kind resolved,
// binary decided from the code and always present except for sequences,
// sequence components qualified with the caller's namespace, unknown
// kinds refused with the platform's valid ones.
func TestExecAsOpenWhiskStoresIt(t *testing.T) {
	env := startPlatform(t, Config{})
	ns := env.p.Users()[0].Namespace
	mustPut(t, env.c, "a", testAction("echo"))
	zip := zipExec(t, "#!/bin/sh\necho '{}'\n")
	tests := []struct {
		name   string
		exec   string
		status int
		want   map[string]any // exec fields to find; nil value: absent
		msg    string
	}{
		{name: "nodejs text, default kind", exec: `{"kind":"nodejs:default","code":"function main() { return {} }"}`, status: 200,
			want: map[string]any{"kind": "nodejs:20", "binary": false}},
		{name: "nodejs zip", exec: `{"kind":"nodejs:18","code":"` + zip + `"}`, status: 200,
			want: map[string]any{"kind": "nodejs:18", "binary": true}},
		{name: "kind in capitals", exec: `{"kind":" NodeJS:20 ","code":"function main() { return {} }"}`, status: 200,
			want: map[string]any{"kind": "nodejs:20"}},
		{name: "empty code", exec: `{"kind":"nodejs:20","code":""}`, status: 200,
			want: map[string]any{"kind": "nodejs:20", "binary": false}},
		{name: "native as wsk sends it, zip", exec: `{"kind":"blackbox","image":"openwhisk/dockerskeleton","code":"` + zip + `"}`, status: 200,
			want: map[string]any{"kind": "blackbox", "image": "openwhisk/dockerskeleton", "binary": true}},
		{name: "blackbox without code", exec: `{"kind":"blackbox","image":"me/img"}`, status: 200,
			want: map[string]any{"kind": "blackbox", "binary": false, "code": nil}},
		{name: "sequence", exec: `{"kind":"sequence","components":["/_/a","a"]}`, status: 200,
			want: map[string]any{"kind": "sequence", "components": []any{"/" + ns + "/a", "/" + ns + "/a"}, "binary": nil}},
		{name: "unknown kind", exec: `{"kind":"cobol:1","code":"x"}`, status: 400,
			msg: "The specified runtime 'cobol:1' is not supported by this platform. Valid values are: 'blackbox', 'nodejs:18', 'nodejs:20', 'python:3', 'python:3.10', 'python:3.11', 'sequence'."},
		{name: "native is no kind of OpenWhisk's", exec: `{"kind":"native","code":"x"}`, status: 400,
			msg: "The specified runtime 'native' is not supported by this platform."},
		{name: "python default", exec: `{"kind":"python:default","code":"def main(args):\n  return args"}`, status: 200,
			want: map[string]any{"kind": "python:3.10", "binary": false}},
		{name: "python 3, as older deployments name it", exec: `{"kind":"python:3","code":"def main(args):\n  return args"}`, status: 200,
			want: map[string]any{"kind": "python:3"}},
		{name: "python 2 is gone", exec: `{"kind":"python:2","code":"x"}`, status: 400,
			msg: "The specified runtime 'python:2' is not supported"},
		{name: "default of a family not run here", exec: `{"kind":"swift:default","code":"x"}`, status: 400,
			msg: "The specified runtime 'swift:default' is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := env.url + "/api/v1/namespaces/_/actions/x?overwrite=true"
			status, body := rawRequest(t, "PUT", url, env.key, `{"exec":`+tt.exec+`}`)
			if status != tt.status {
				t.Fatalf("PUT: %d %v, want %d", status, body, tt.status)
			}
			if tt.msg != "" {
				if e, _ := body["error"].(string); !strings.HasPrefix(e, tt.msg) {
					t.Errorf("error %q, want it to start with %q", e, tt.msg)
				}
				return
			}
			for _, got := range []map[string]any{body, getRaw(t, env, "x")} {
				e, _ := got["exec"].(map[string]any)
				for k, want := range tt.want {
					v, ok := e[k]
					if want == nil {
						if ok {
							t.Errorf("exec.%s = %v, want it absent (%v)", k, v, e)
						}
						continue
					}
					if wb, _ := json.Marshal(want); !ok || string(mustMarshal(v)) != string(wb) {
						t.Errorf("exec.%s = %v, want %v (%v)", k, v, want, e)
					}
				}
			}
		})
	}
}

func getRaw(t *testing.T, env *testEnv, name string) map[string]any {
	t.Helper()
	status, body := rawRequest(t, "GET", env.url+"/api/v1/namespaces/_/actions/"+name, env.key, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %v", name, status, body)
	}
	return body
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestUpdateMergesAnnotations follows Actions.scala updateWhiskAction: an
// update's annotations are merged over the action's, after removing the
// keys in delAnnotations; parameters given replace the action's; the exec
// annotation is the kind, whatever the update says (amendAnnotations).
func TestUpdateMergesAnnotations(t *testing.T) {
	env := startPlatform(t, Config{})
	url := env.url + "/api/v1/namespaces/_/actions/m?overwrite=true"
	exec := `"exec":{"kind":"blackbox","image":"wskx/testaction","code":"echo"}`
	steps := []struct {
		body string
		want map[string]any
	}{
		{`{` + exec + `,"annotations":[{"key":"a","value":1},{"key":"b","value":2}]}`,
			map[string]any{"a": 1.0, "b": 2.0, "exec": "blackbox", "provide-api-key": false}},
		{`{"annotations":[{"key":"a","value":3},{"key":"c","value":4},{"key":"exec","value":"cobol"}]}`,
			map[string]any{"a": 3.0, "b": 2.0, "c": 4.0, "exec": "blackbox", "provide-api-key": false}},
		{`{"delAnnotations":["b","provide-api-key","exec"]}`,
			map[string]any{"a": 3.0, "c": 4.0, "exec": "blackbox"}},
		{`{"exec":{"kind":"nodejs:default","code":"function main() {}"}}`,
			map[string]any{"a": 3.0, "c": 4.0, "exec": "nodejs:20"}},
	}
	for i, s := range steps {
		status, body := rawRequest(t, "PUT", url, env.key, s.body)
		if status != 200 {
			t.Fatalf("step %d: %d %v", i, status, body)
		}
		got := map[string]any{}
		for _, kv := range getRaw(t, env, "m")["annotations"].([]any) {
			kv := kv.(map[string]any)
			got[kv["key"].(string)] = kv["value"]
		}
		if string(mustMarshal(got)) != string(mustMarshal(s.want)) {
			t.Errorf("step %d: annotations %v, want %v", i, got, s.want)
		}
	}
}

// TestEmptyCodeMissingMain: OpenWhisk stores a nodejs action with empty
// code and its runtime refuses the /init, which the invoke answers as a
// developer error with the runtime's message.
func TestEmptyCodeMissingMain(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: nodejs actions cannot run")
	}
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "empty", nodeAction(""))
	inv, err := env.c.Invoke(ctxT(t), "empty", nil, whisk.InvokeOptions{Blocking: true})
	apiErr(t, err, 502)
	if inv == nil || inv.Activation == nil {
		t.Fatalf("no record: %+v", inv)
	}
	r := inv.Activation.Response
	if r.Status != "action developer error" || !strings.Contains(string(r.Result), "Missing main/no code to execute.") {
		t.Errorf("response %s %s, want a developer error saying the code is missing", r.Status, r.Result)
	}
}

// TestSequenceArrayPassThrough: an array result is the next component's
// input as it is, and the sequence's result when it is the last one
// (SequenceActions.scala); the action gets it without its defaults.
func TestSequenceArrayPassThrough(t *testing.T) {
	env := startPlatform(t, Config{})
	skel := func(script string) *whisk.Action {
		return &whisk.Action{Exec: &whisk.Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton", Code: script}}
	}
	mustPut(t, env.c, "list", skel("#!/bin/sh\necho '[1,2,3]'\n"))
	// The skeleton gives the arguments as argv[1]: echoed, they are its result.
	echo := skel("#!/bin/sh\necho \"$1\"\n")
	echo.Parameters = whisk.KeyValues{{Key: "dflt", Value: true}}
	mustPut(t, env.c, "echo", echo)
	mustPut(t, env.c, "seq", &whisk.Action{Exec: &whisk.Exec{Kind: "sequence", Components: []string{"list", "echo"}}})
	mustPut(t, env.c, "seq1", &whisk.Action{Exec: &whisk.Exec{Kind: "sequence", Components: []string{"list"}}})
	for name, want := range map[string]string{"seq": `[1,2,3]`, "seq1": `[1,2,3]`} {
		inv, err := env.c.Invoke(ctxT(t), name, map[string]any{"x": 1}, whisk.InvokeOptions{Blocking: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		jsonEqual(t, inv.Activation.Response.Result, want)
	}
}

// TestPythonAction creates python actions as wsk does (text, or a zip
// whose binary the platform decides) and invokes them.
func TestPythonAction(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: python actions cannot run")
	}
	env := startPlatform(t, Config{})
	hello := "def main(args):\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n"
	for name, code := range map[string]string{"text": hello, "zip": zipFile(t, "__main__.py", hello)} {
		mustPut(t, env.c, "py-"+name, &whisk.Action{Exec: &whisk.Exec{Kind: "python:default", Code: code}})
		inv, err := env.c.Invoke(ctxT(t), "py-"+name, map[string]any{"name": "Ada"}, whisk.InvokeOptions{Blocking: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		jsonEqual(t, inv.Activation.Response.Result, `{"greeting":"Hello Ada"}`)
	}
}
