// Package jsonmux keeps net/http's ServeMux from answering in text or
// HTML: OpenWhisk's clients and invokers read every answer as JSON.
package jsonmux

import (
	"encoding/json"
	"net/http"
	"path"
)

// CleanPath is the canonical form ServeMux redirects to: rooted, no "." or
// ".." elements, no repeated slashes, a trailing slash kept. A request
// whose path differs would get the mux's redirect with an HTML body.
func CleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// The action container's answers to requests outside the protocol.
const (
	msgNotFound         = "The action container answers only POST /init and POST /run."
	msgMethodNotAllowed = "Only POST is allowed here."
)

// Container serves the action-container protocol, POST /init and POST
// /run, and answers anything else with a JSON error: 404, or 405 with an
// Allow header for another method on those paths.
func Container(init, run http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /init", init)
	mux.HandleFunc("POST /run", run)
	for _, p := range []string{"/init", "/run"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, msgMethodNotAllowed)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, msgNotFound)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if CleanPath(r.URL.Path) != r.URL.Path {
			writeError(w, http.StatusNotFound, msgNotFound)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
