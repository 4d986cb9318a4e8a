package platform

import (
	"net/http"
	"runtime/debug"
	"strings"
)

// The namespace-wide routes: the namespaces of a key, the lists of
// collections the platform does not have, and the unauthenticated
// descriptions of the platform and of the API.

// listNamespaces is Namespaces.scala: the key's one namespace.
func (p *Platform) listNamespaces(w http.ResponseWriter, r *http.Request) {
	writeJSONResponse(w, http.StatusOK, []string{userOf(r).Namespace})
}

// listNothing answers the list of a collection the platform does not have
// (triggers, rules) with an empty list, so that clients that list every
// collection (wsk namespace get, wsk list) work; its parameters are
// checked as OpenWhisk checks them.
func listNothing(collection string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _, count, msg := listParams(r, collection)
		switch {
		case msg != "":
			writeError(w, r, http.StatusBadRequest, msg)
		case count:
			writeJSONResponse(w, http.StatusOK, map[string]int{collection: 0})
		default:
			writeJSONResponse(w, http.StatusOK, []any{})
		}
	}
}

// buildInfo is the build's date and number, as OpenWhisk's whisk.info
// gives them (a standalone OpenWhisk reports its git commit and time).
func buildInfo() (date, number string) {
	date, number = "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return date, number
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		number = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.time":
			date = s.Value
		case "vcs.revision":
			if number == "unknown" {
				number = s.Value
			}
		}
	}
	return date, number
}

// apiInfo is what GET /api/v1 answers (RestAPIs.scala RestAPIVersion
// info), what wsk property get reads.
func (p *Platform) apiInfo(w http.ResponseWriter, r *http.Request) {
	date, number := buildInfo()
	writeJSONResponse(w, http.StatusOK, map[string]any{
		"description":      "OpenWhisk API",
		"api_version":      "1.0.0",
		"api_version_path": "v1",
		"build":            date,
		"buildno":          number,
		"swagger_paths":    map[string]string{"ui": "/docs", "api-docs": "/api-docs"},
	})
}

// controllerInfo is what GET / answers (Controller.scala info): the API
// paths, this platform's limits and its runtimes. The platform has no
// per-minute rate limits, so the two OpenWhisk gives are left out.
func (p *Platform) controllerInfo(w http.ResponseWriter, r *http.Request) {
	const mb = 1 << 20
	families := map[string][]map[string]any{}
	for _, rt := range runtimes {
		family, _, _ := strings.Cut(rt.kind, ":")
		families[family] = append(families[family], map[string]any{
			"kind": rt.kind, "image": rt.image, "deprecated": false, "default": rt.isDeflt,
			"attached": true, "requireMain": false,
		})
	}
	writeJSONResponse(w, http.StatusOK, map[string]any{
		"description": "OpenWhisk-compatible platform of wskx (wskx standalone)",
		"support":     map[string]string{"github": "https://github.com/wskx/wskx/issues"},
		"api_paths":   []string{"/api/v1"},
		"limits": map[string]any{
			"concurrent_actions":          p.cfg.NamespaceConcurrency,
			"sequence_length":             p.cfg.LengthLimit,
			"default_min_action_duration": minTimeout,
			"default_max_action_duration": maxTimeout,
			"default_min_action_memory":   minMemory * mb,
			"default_max_action_memory":   maxMemory * mb,
			"default_min_action_logs":     0,
			"default_max_action_logs":     maxLogs * mb,
			"min_action_duration":         minTimeout,
			"max_action_duration":         maxTimeout,
			"min_action_memory":           minMemory * mb,
			"max_action_memory":           maxMemory * mb,
			"min_action_logs":             0,
			"max_action_logs":             maxLogs * mb,
		},
		"runtimes": families,
	})
}
