package platform

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// TestRuleAPI walks a rule through OpenWhisk's answers (RulesApiTests,
// WskRuleTests, the npm client's rules.test.js): creation checks, status
// kept in the trigger, enable and disable, updates, deletion of an
// active rule, and rules left dangling by their trigger.
func TestRuleAPI(t *testing.T) {
	env := startPlatform(t, Config{})
	c := env.c
	mustPut(t, c, "a1", testAction("echo"))
	mustPutPackage(t, c, "pkg", nil)
	mustPut(t, c, "pkg/a2", testAction("echo"))
	mustTrigger(t, c, "t1", nil)
	mustTrigger(t, c, "t2", nil)
	base := env.url + "/api/v1/namespaces/_"
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // a fragment of the answer, or its error message
	}{
		{"missing trigger", "PUT", "/rules/r", `{"trigger":"/_/nope","action":"/_/a1"}`, 400, "trigger /guest/nope does not exist"},
		{"missing action", "PUT", "/rules/r", `{"trigger":"/_/t1","action":"/_/nope"}`, 400, "action /guest/nope does not exist"},
		{"both missing", "PUT", "/rules/r", `{"trigger":"/_/nope","action":"/_/nope"}`, 400, "trigger /guest/nope does not exist"},
		{"no namespace", "PUT", "/rules/r", `{"trigger":"t1","action":"/_/a1"}`, 400,
			"The request content was malformed:\nrequirement failed: " + msgMalformedQualified},
		{"no action", "PUT", "/rules/r", `{"trigger":"/_/t1"}`, 400, msgRuleNeedsBoth},
		{"another namespace", "PUT", "/rules/r", `{"trigger":"/_/t1","action":"/other/a1"}`, 403,
			"The supplied authentication is not authorized to access 'other/a1'."},
		{"create", "PUT", "/rules/r", `{"trigger":"/_/t1","action":"/_/a1"}`, 200,
			`"status":"active","trigger":{"path":"guest","name":"t1"},"action":{"path":"guest","name":"a1"}`},
		{"create again", "PUT", "/rules/r", `{"trigger":"/_/t1","action":"/_/a1"}`, 409, msgExists},
		{"trigger links it", "GET", "/triggers/t1", "", 200, `"rules":{"guest/r":{"action":{"path":"guest","name":"a1"},"status":"active"}}`},
		{"get", "GET", "/rules/r", "", 200, `"status":"active"`},
		{"a trigger's name", "GET", "/rules/t1", "", 409, msgOtherCollection},
		{"no status", "POST", "/rules/r", "", 400, "Request entity expected but not supplied"},
		{"bad status", "POST", "/rules/r", `{"status":"xxx"}`, 400, msgEntityMalformed + "requirement failed: xxx is not a recognized rule state"},
		{"bad status of a missing rule", "POST", "/rules/nope", `{"status":"xxx"}`, 400, msgEntityMalformed},
		{"disable", "POST", "/rules/r", `{"status":"inactive"}`, 200, "OK"},
		{"disabled", "GET", "/rules/r", "", 200, `"status":"inactive"`},
		{"disable again", "POST", "/rules/r", `{"status":"inactive"}`, 200, "OK"},
		{"update keeps the status", "PUT", "/rules/r?overwrite=true", `{"action":"/_/pkg/a2"}`, 200,
			`"version":"0.0.2","publish":false,"annotations":[],"status":"inactive","trigger":{"path":"guest","name":"t1"},"action":{"path":"guest/pkg","name":"a2"}`},
		{"update moves the link", "PUT", "/rules/r?overwrite=true", `{"trigger":"/guest/t2"}`, 200, `"status":"inactive","trigger":{"path":"guest","name":"t2"}`},
		{"old trigger unlinked", "GET", "/triggers/t1", "", 200, `"rules":{}`},
		{"enable", "POST", "/rules/r", `{"status":"active"}`, 200, "OK"},
		{"enabled", "GET", "/rules/r", "", 200, `"status":"active"`},
		{"list without status", "GET", "/rules", "", 200, `[{"namespace":"guest","name":"r","version":"0.0.3","publish":false,"annotations":[],"trigger"`},
		{"count", "GET", "/rules?count=true", "", 200, `{"rules":1}`},
		{"list with a slash", "GET", "/rules/?count=true", "", 200, `{"rules":1}`},
		{"delete active", "DELETE", "/rules/r", "", 200, `"status":"inactive"`},
		{"deleted", "GET", "/rules/r", "", 404, msgNotFound},
		{"trigger unlinked", "GET", "/triggers/t2", "", 200, `"rules":{}`},
		{"dangling", "PUT", "/rules/d", `{"trigger":"/_/t1","action":"/_/a1"}`, 200, `"status":"active"`},
		{"trigger gone", "DELETE", "/triggers/t1", "", 200, `"name":"t1"`},
		{"dangling is inactive", "GET", "/rules/d", "", 200, `"status":"inactive"`},
		{"no trigger to enable in", "POST", "/rules/d", `{"status":"active"}`, 404, msgRuleNoTrigger},
		{"disabling without a trigger", "POST", "/rules/d", `{"status":"inactive"}`, 200, "OK"},
		{"a new trigger does not link it", "PUT", "/triggers/t1", "{}", 200, `"name":"t1"`},
		{"still inactive", "GET", "/rules/d", "", 200, `"status":"inactive"`},
		{"delete dangling", "DELETE", "/rules/d", "", 200, `"status":"inactive"`},
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
	if status, body := rawCall(t, "GET", base+"/rules/nothing/here", env.key, ""); status != http.StatusNotFound {
		t.Errorf("extra segment: %d %s", status, body)
	}
}

// TestRuleFiresPackagedAction fires a rule whose action is in a package
// and one whose action was deleted, then recreated under the same name,
// which the rule reaches again, as it names the action only.
func TestRuleFiresPackagedAction(t *testing.T) {
	env := startPlatform(t, Config{})
	c := env.c
	mustPutPackage(t, c, "pkg", nil)
	mustPut(t, c, "pkg/wc", testAction("step"))
	mustTrigger(t, c, "t", nil)
	mustRule(t, c, "r", "t", "pkg/wc")
	fire := func() ruleResult {
		id, err := c.FireTrigger(ctxT(t), "t", map[string]any{"n": 1})
		if err != nil || id == "" {
			t.Fatalf("fire: %q, %v", id, err)
		}
		lines := ruleLines(t, waitActivation(t, c, id))
		if len(lines) != 1 {
			t.Fatalf("lines %+v", lines)
		}
		return lines[0]
	}
	line := fire()
	if !line.Success || line.Action != "guest/pkg/wc" {
		t.Fatalf("line %+v", line)
	}
	jsonEqual(t, waitActivation(t, c, line.ActivationID).Response.Result, `{"n":2}`)
	if _, err := c.DeleteAction(ctxT(t), "pkg/wc"); err != nil {
		t.Fatal(err)
	}
	if line := fire(); line.Success || line.StatusCode != 1 || line.Error != msgNotFound {
		t.Errorf("fire with the action gone: %+v", line)
	}
	mustPut(t, c, "pkg/wc", testAction("step"))
	if line := fire(); !line.Success {
		t.Errorf("fire with the action back: %+v", line)
	}
	rules, err := c.ListRules(ctxT(t), whisk.ListOptions{})
	if err != nil || len(rules) != 1 || rules[0].Status != "" || rules[0].Action.String() != "guest/pkg/wc" {
		t.Errorf("rules %+v, %v", rules, err)
	}
}
