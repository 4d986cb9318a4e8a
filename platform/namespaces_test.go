package platform

import (
	"net/http"
	"testing"
)

// TestInfo: GET / (Controller.scala info) and GET /api/v1 (RestAPIs.scala
// info) answer without a key, the first with the platform's own limits.
func TestInfo(t *testing.T) {
	env := startPlatform(t, Config{LengthLimit: 7, NamespaceConcurrency: 4})
	for _, path := range []string{"/api/v1", "/api/v1/"} {
		status, info := rawRequest(t, "GET", env.url+path, "", "")
		if status != 200 || info["description"] != "OpenWhisk API" || info["api_version"] != "1.0.0" || info["api_version_path"] != "v1" {
			t.Errorf("GET %s: %d %v", path, status, info)
		}
		if b, _ := info["build"].(string); b == "" {
			t.Errorf("GET %s: no build in %v", path, info)
		}
		if b, _ := info["buildno"].(string); b == "" {
			t.Errorf("GET %s: no buildno in %v", path, info)
		}
		if sp, _ := info["swagger_paths"].(map[string]any); sp["api-docs"] != "/api-docs" || sp["ui"] != "/docs" {
			t.Errorf("GET %s: swagger_paths %v", path, info["swagger_paths"])
		}
	}
	status, info := rawRequest(t, "GET", env.url+"/", "", "")
	if status != 200 || info["description"] == nil || info["support"] == nil {
		t.Fatalf("GET /: %d %v", status, info)
	}
	if paths, _ := info["api_paths"].([]any); len(paths) != 1 || paths[0] != "/api/v1" {
		t.Errorf("api_paths %v", info["api_paths"])
	}
	limits, _ := info["limits"].(map[string]any)
	for k, want := range map[string]float64{
		"concurrent_actions": 4, "sequence_length": 7,
		"min_action_duration": 100, "max_action_duration": 300000,
		"min_action_memory": 128 << 20, "max_action_memory": 512 << 20,
		"min_action_logs": 0, "max_action_logs": 10 << 20,
		"default_max_action_memory": 512 << 20,
	} {
		if limits[k] != want {
			t.Errorf("limits.%s = %v, want %v", k, limits[k], want)
		}
	}
	nodejs, _ := info["runtimes"].(map[string]any)["nodejs"].([]any)
	defaults := map[any]any{}
	for _, rt := range nodejs {
		rt := rt.(map[string]any)
		defaults[rt["kind"]] = rt["default"]
	}
	python, _ := info["runtimes"].(map[string]any)["python"].([]any)
	for _, rt := range python {
		rt := rt.(map[string]any)
		defaults[rt["kind"]] = rt["default"]
	}
	if len(nodejs)+len(python) != len(runtimes) || defaults["nodejs:20"] != true || defaults["nodejs:18"] != false ||
		defaults["python:3.10"] != true || defaults["python:3"] != false {
		t.Errorf("runtimes %v", info["runtimes"])
	}
	if status, body := rawRequest(t, "POST", env.url+"/", "", "{}"); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d %v", status, body)
	}
}

// TestNamespaceLists: what wsk namespace get and wsk list read, every
// collection listed with limit=0 (all); triggers and rules, which the
// platform does not have, are empty.
func TestNamespaceLists(t *testing.T) {
	env := startPlatform(t, Config{})
	mustPut(t, env.c, "a", testAction("echo"))
	mustPutPackage(t, env.c, "p", nil)
	runSteps(t, env, env.key, []step{
		{"GET", "_/actions?limit=0&skip=0", "", 200, map[string]any{"len": 1}},
		{"GET", "_/packages?limit=0&skip=0", "", 200, map[string]any{"len": 1}},
		{"GET", "_/triggers?limit=0&skip=0", "", 200, map[string]any{"len": 0}},
		{"GET", "_/rules?limit=0&skip=0", "", 200, map[string]any{"len": 0}},
		{"GET", "guest/rules/", "", 200, map[string]any{"len": 0}},
		{"GET", "_/triggers?count=true", "", 200, map[string]any{"triggers": 0}},
		{"GET", "_/rules?skip=-1", "", 400, map[string]any{"error": "The value '-1' is not greater than or equal to 0 for rules."}},
		{"GET", "other/triggers", "", 403, map[string]any{"error": "The supplied authentication is not authorized to access 'other'."}},
	})
}
