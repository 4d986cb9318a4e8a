package platform

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// TestTriggerAPI checks the trigger routes' answers against
// OpenWhisk's (TriggersApiTests, the npm client's triggers.test.js).
func TestTriggerAPI(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "anAction", testAction("echo"))
	base := env.url + "/api/v1/namespaces/_/triggers"
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // a JSON fragment of the answer, or its error message
	}{
		{"create", "PUT", "/t1", "{}", 200, `"name":"t1","version":"0.0.1","publish":false,"annotations":[],"limits":{}`},
		{"create again", "PUT", "/t1", "{}", 409, msgExists},
		{"update", "PUT", "/t1?overwrite=true", `{"parameters":[{"key":"x","value":1}]}`, 200, `"version":"0.0.2"`},
		{"update keeps parameters", "PUT", "/t1?overwrite=true", `{"publish":true}`, 200, `"parameters":[{"key":"x","value":1}]`},
		{"set version", "PUT", "/t1?overwrite=true", `{"version":"2"}`, 200, `"version":"2.0.0"`},
		{"bad version", "PUT", "/t1?overwrite=true", `{"version":"x"}`, 400, msgEntityMalformed + "semantic version malformed"},
		{"zero version", "PUT", "/t1?overwrite=true", `{"version":"0.0"}`, 400, msgEntityMalformed + "semantic version malformed"},
		{"get", "GET", "/t1", "", 200, `"namespace":"guest","name":"t1"`},
		{"get missing", "GET", "/nope", "", 404, msgNotFound},
		{"an action's name", "GET", "/anAction", "", 409, msgOtherCollection},
		{"create over an action", "PUT", "/anAction", "{}", 409, msgOtherCollection},
		{"illegal name", "PUT", "/bad%21name", "{}", 400, msgNameIllegal},
		{"extra segment", "GET", "/t1/bar", "", 404, msgNotFound},
		{"feed", "PUT", "/t2", `{"annotations":[{"key":"feed","value":"/whisk.system/alarms/interval"}]}`, 200, `"annotations":[{"key":"feed","value":"/whisk.system/alarms/interval"}]`},
		{"empty feed", "PUT", "/t3", `{"annotations":[{"key":"feed","value":""}]}`, 400, msgFeedInvalid},
		{"bad feed", "PUT", "/t3", `{"annotations":[{"key":"feed","value":"a,b"}]}`, 400, msgFeedInvalid},
		{"feed of an update unchecked", "PUT", "/t2?overwrite=true", `{"annotations":[{"key":"feed","value":"a,b"}]}`, 200, `"a,b"`},
		{"malformed body", "PUT", "/t3", `{"parameters":`, 400, msgEntityMalformed},
		{"big parameters", "PUT", "/t3", `{"parameters":[{"key":"k","value":"` + strings.Repeat("a", maxPayload) + `"}]}`, 413, "parameters larger than allowed"},
		{"list", "GET", "?limit=1", "", 200, `[{"namespace":"guest","name":"t`},
		{"list skips", "GET", "?skip=1", "", 200, `[{"namespace":"guest","name":"t`},
		{"count", "GET", "?count=true", "", 200, `{"triggers":2}`},
		{"list with a slash", "GET", "/?count=true", "", 200, `{"triggers":2}`},
		{"bad limit", "GET", "?limit=x", "", 400, "The value 'x' is not an integer for triggers."},
		{"limit too high", "GET", "?limit=201", "", 400, "The value '201' is not in the range of 0 to 200 for triggers."},
		{"negative skip", "GET", "?skip=-1", "", 400, "The value '-1' is not greater than or equal to 0 for triggers."},
		{"fire without rules", "POST", "/t1", `{"a":1}`, 204, ""},
		{"fire with an array", "POST", "/t1", `[1]`, 400, msgEntityMalformed + "JSON object expected"},
		{"fire missing", "POST", "/nope", `{}`, 404, msgNotFound},
		{"another namespace", "GET", "/../../other/triggers/t1", "", 404, msgNotFound},
		{"delete", "DELETE", "/t1", "", 200, `"name":"t1"`},
		{"deleted", "GET", "/t1", "", 404, msgNotFound},
	}
	for _, tc := range tests {
		status, body := rawCall(t, tc.method, base+tc.path, env.key, tc.body)
		if status != tc.status {
			t.Errorf("%s: status %d %s, want %d", tc.name, status, body, tc.status)
			continue
		}
		if tc.status >= 400 && !strings.HasPrefix(errorOf(body), tc.want) || tc.status < 400 && !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: answer %s, want %s", tc.name, body, tc.want)
		}
	}
	list, err := env.c.ListTriggers(ctxT(t), whisk.ListOptions{})
	if err != nil || len(list) != 1 || list[0].Parameters != nil || list[0].Limits != nil || list[0].Name != "t2" {
		t.Errorf("list %+v, %v: want t2 alone, without parameters and limits", list, err)
	}
	status, body := rawCall(t, "GET", env.url+"/api/v1/namespaces/other/triggers", env.key, "")
	if status != http.StatusForbidden {
		t.Errorf("another namespace's triggers: %d %s", status, body)
	}
}

// TestFireTrigger fires a trigger with rules as WskRuleTests do: a
// trigger activation whose result is the payload and whose logs say what
// each rule did, and action activations with the trigger's parameters
// under the payload.
func TestFireTrigger(t *testing.T) {
	env := startPlatform(t, Config{})
	c := env.c
	mustPut(t, c, "echo", testAction("echo"))
	mustPut(t, c, "gone", testAction("echo"))
	mustTrigger(t, c, "t", &whisk.Trigger{Parameters: whisk.KeyValues{{Key: "a", Value: 1}, {Key: "b", Value: 1}}})
	mustRule(t, c, "r1", "t", "echo")
	mustRule(t, c, "r2", "t", "echo")
	mustRule(t, c, "r3", "t", "gone")
	if err := c.SetRuleState(ctxT(t), "r2", whisk.RuleInactive); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteAction(ctxT(t), "gone"); err != nil {
		t.Fatal(err)
	}
	status, body := rawCall(t, "POST", env.url+"/api/v1/namespaces/_/triggers/t", env.key, `{"b":2,"c":3}`)
	if status != http.StatusAccepted {
		t.Fatalf("fire: %d %s", status, body)
	}
	var fired struct {
		ActivationID string `json:"activationId"`
	}
	if err := json.Unmarshal(body, &fired); err != nil || len(fired.ActivationID) != 32 {
		t.Fatalf("fire answer %s", body)
	}
	rec := waitActivation(t, c, fired.ActivationID)
	jsonEqual(t, rec.Response.Result, `{"b":2,"c":3}`)
	if rec.Name != "t" || rec.Namespace != "guest" || rec.Cause != "" || !rec.Response.Success || len(rec.Annotations) != 0 {
		t.Errorf("trigger activation %+v", rec)
	}
	if len(rec.Logs) != 3 {
		t.Fatalf("logs %q, want one line per rule", rec.Logs)
	}
	if !strings.HasPrefix(rec.Logs[0], `{"statusCode":0,"success":true,"activationId":"`) ||
		!strings.HasSuffix(rec.Logs[0], `","rule":"guest/r1","action":"guest/echo"}`) {
		t.Errorf("first line %s is not as OpenWhisk writes it", rec.Logs[0])
	}
	lines := ruleLines(t, rec)
	want := []ruleResult{
		{StatusCode: 0, Success: true, ActivationID: lines[0].ActivationID, Rule: "guest/r1", Action: "guest/echo"},
		{StatusCode: 1, Error: "Rule 'guest/r2' is inactive, action 'guest/echo' was not activated.", Rule: "guest/r2", Action: "guest/echo"},
		{StatusCode: 1, Error: msgNotFound, Rule: "guest/r3", Action: "guest/gone"},
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, lines[i], want[i])
		}
	}
	act := waitActivation(t, c, lines[0].ActivationID)
	res := resultMap(t, act.Response.Result)
	headers, _ := res["__ow_headers"].(map[string]any)
	if res["a"] != 1.0 || res["b"] != 2.0 || res["c"] != 3.0 || headers["content-type"] != "application/json" || headers["host"] == nil {
		t.Errorf("action result %v", res)
	}
	if act.Cause != "" || act.Name != "echo" {
		t.Errorf("action activation: cause %q, name %q", act.Cause, act.Name)
	}
	// Without a payload the record's result is {}.
	id, err := c.FireTrigger(ctxT(t), "t", nil)
	if err != nil || id == "" {
		t.Fatalf("fire without payload: %q, %v", id, err)
	}
	jsonEqual(t, waitActivation(t, c, id).Response.Result, `{}`)
	// With every rule inactive, nothing is recorded.
	if err := c.SetRuleState(ctxT(t), "r1", whisk.RuleInactive); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRule(ctxT(t), "r3"); err != nil {
		t.Fatal(err)
	}
	if id, err := c.FireTrigger(ctxT(t), "t", map[string]any{}); err != nil || id != "" {
		t.Errorf("fire with inactive rules: %q, %v", id, err)
	}
}
