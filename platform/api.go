package platform

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/wskx/wskx/internal/jsonmux"
)

// OpenWhisk's messages for the API.
const (
	msgNotFound      = "The requested resource does not exist."
	msgUnauthorized  = "The supplied authentication is invalid."
	msgExists        = "resource already exists"
	msgBadTimeout    = "Timeout must be number of milliseconds up to 60000."
	msgActivationID  = "The activation id is not valid."
	msgMalformedBody = "The request content was malformed."
	msgNameIllegal   = "The name of the entity contains illegal characters."
	msgNSIllegal     = "The namespace contains illegal characters."
	msgConformance   = "Resource by this name exists but is not in this collection."
	msgServerError   = "There was an error processing your request."
)

type ctxKey int

const (
	userKey ctxKey = iota
	txKey
	nsKey
)

// msgMethodNotAllowed is akka-http's text for a method a path does not take.
const msgMethodNotAllowed = "HTTP method not allowed, supported methods: "

// audience says who may use a route: anyone, a key for its own
// namespace, or a key for any namespace, the handler deciding what
// another namespace may see (OpenWhisk's entitlement, see entitle.go).
type audience int

const (
	public audience = iota
	ownNS
	anyNS
)

func (p *Platform) routes() http.Handler {
	routes := []struct {
		method, pattern string
		who             audience
		h               http.HandlerFunc
	}{
		{"GET", "/{$}", public, p.controllerInfo},
		{"GET", "/api/v1", public, p.apiInfo},
		{"GET", "/api/v1/{$}", public, p.apiInfo},
		{"GET", "/api/v1/namespaces", ownNS, p.listNamespaces},
		{"GET", "/api/v1/namespaces/{ns}/actions", ownNS, p.listActions},
		{"PUT", "/api/v1/namespaces/{ns}/actions/{name...}", anyNS, p.putAction},
		{"GET", "/api/v1/namespaces/{ns}/actions/{name...}", anyNS, p.getAction},
		{"DELETE", "/api/v1/namespaces/{ns}/actions/{name...}", anyNS, p.deleteAction},
		{"POST", "/api/v1/namespaces/{ns}/actions/{name...}", anyNS, p.invoke},
		{"GET", "/api/v1/namespaces/{ns}/packages", anyNS, p.listPackages},
		{"GET", "/api/v1/namespaces/{ns}/packages/{$}", anyNS, p.listPackages},
		{"PUT", "/api/v1/namespaces/{ns}/packages/{name}", anyNS, p.putPackage},
		{"GET", "/api/v1/namespaces/{ns}/packages/{name}", anyNS, p.getPackage},
		{"DELETE", "/api/v1/namespaces/{ns}/packages/{name}", anyNS, p.deletePackage},
		{"GET", "/api/v1/namespaces/{ns}/activations", ownNS, p.listActivations},
		{"GET", "/api/v1/namespaces/{ns}/activations/{id}", ownNS, p.getActivation},
		{"GET", "/api/v1/namespaces/{ns}/activations/{id}/result", ownNS, p.activationResult},
		{"GET", "/api/v1/namespaces/{ns}/activations/{id}/logs", ownNS, p.activationLogs},
		{"GET", "/api/v1/namespaces/{ns}/triggers", ownNS, p.listTriggers},
		{"GET", "/api/v1/namespaces/{ns}/triggers/{$}", ownNS, p.listTriggers},
		{"PUT", "/api/v1/namespaces/{ns}/triggers/{name}", ownNS, p.putTrigger},
		{"GET", "/api/v1/namespaces/{ns}/triggers/{name}", ownNS, p.getTrigger},
		{"DELETE", "/api/v1/namespaces/{ns}/triggers/{name}", ownNS, p.deleteTrigger},
		{"POST", "/api/v1/namespaces/{ns}/triggers/{name}", ownNS, p.fireTrigger},
		{"GET", "/api/v1/namespaces/{ns}/rules", ownNS, p.listRules},
		{"GET", "/api/v1/namespaces/{ns}/rules/{$}", ownNS, p.listRules},
		{"PUT", "/api/v1/namespaces/{ns}/rules/{name}", ownNS, p.putRule},
		{"GET", "/api/v1/namespaces/{ns}/rules/{name}", ownNS, p.getRule},
		{"DELETE", "/api/v1/namespaces/{ns}/rules/{name}", ownNS, p.deleteRule},
		{"POST", "/api/v1/namespaces/{ns}/rules/{name}", ownNS, p.setRuleState},
	}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	var order []string
	for _, rt := range routes {
		h := rt.h
		if rt.who != public {
			h = p.auth(h, rt.who == anyNS)
		}
		mux.HandleFunc(rt.method+" "+rt.pattern, h)
		if allowed[rt.pattern] == nil {
			order = append(order, rt.pattern)
		}
		allowed[rt.pattern] = append(allowed[rt.pattern], rt.method)
	}
	// A pattern without a method catches the other methods of a path, so
	// that they get a JSON 405 rather than the mux's text. It also keeps
	// the mux from redirecting ".../actions" to ".../actions/" for the
	// methods that only ".../actions/{name...}" takes.
	for _, pat := range order {
		methods := strings.Join(allowed[pat], ", ")
		mux.HandleFunc(pat, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			writeError(w, r, http.StatusMethodNotAllowed, msgMethodNotAllowed+methods)
		})
	}
	p.addWebRoutes(mux)
	p.addAPIGatewayRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, msgNotFound)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The mux would redirect a path with "..", "." or "//" to its
		// clean form, with an HTML body; no such path names a resource.
		defer drain(r.Body)
		if jsonmux.CleanPath(r.URL.Path) != r.URL.Path {
			writeError(w, r, http.StatusNotFound, msgNotFound)
			return
		}
		if p.serveFeedActions(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// drainLimit bounds what the platform reads of a body it does not want:
// past a size limit, or after an answer that did not need it.
const drainLimit = 64 << 20

// drain reads what is left of a body, up to drainLimit. A client may write
// all of its request before it reads the answer; closing the connection
// on unread data resets it, and that client sees the reset, not the
// answer. A small answer is still in the server's buffer while this runs.
func drain(body io.Reader) {
	_, _ = io.CopyN(io.Discard, body, drainLimit)
}

// readBody reads a request body of at most limit bytes. A longer one is
// drained and answered here with OpenWhisk's 413 (Messages.entityTooBig),
// and the connection closed after it.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, msgMalformedBody)
		return nil, false
	}
	if int64(len(body)) <= limit {
		return body, true
	}
	n, _ := io.CopyN(io.Discard, r.Body, drainLimit)
	size := max(int64(len(body))+n, r.ContentLength)
	w.Header().Set("Connection", "close")
	writeError(w, r, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("Request larger than allowed: %d > %d bytes.", size, limit))
	return nil, false
}

func txid(r *http.Request) string {
	if id, ok := r.Context().Value(txKey).(string); ok {
		return id
	}
	return ""
}

func userOf(r *http.Request) User { return r.Context().Value(userKey).(User) }

// nsOf is the namespace the path names, "_" resolved to the caller's.
func nsOf(r *http.Request) string { return r.Context().Value(nsKey).(string) }

func writeJSONResponse(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	code := txid(r)
	if code == "" {
		code = newID()
	}
	writeJSONResponse(w, status, map[string]string{"error": msg, "code": code})
}

// auth checks the basic-auth key and the namespace in the path ("_" is the
// caller's own), then calls h. Without foreign, a namespace other than the
// caller's is refused here as OpenWhisk's entitlement refuses it
// (Collection.implicitRights): 403 naming the resource.
func (p *Platform) auth(h http.HandlerFunc, foreign bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), txKey, newID()))
		id, secret, ok := r.BasicAuth()
		u, known := p.users[id]
		if !ok || !known || !secretMatches(u.Key, secret) {
			w.Header().Set("WWW-Authenticate", `Basic realm="whisk rest service"`)
			writeError(w, r, http.StatusUnauthorized, msgUnauthorized)
			return
		}
		ns := r.PathValue("ns")
		if len(ns) > maxNameLength {
			writeError(w, r, http.StatusBadRequest, nameTooLong("Namespace", len(ns)))
			return
		}
		if ns != "" && ns != "_" && !validName(ns) {
			writeError(w, r, http.StatusBadRequest, msgNSIllegal)
			return
		}
		if ns == "" || ns == "_" {
			ns = u.Namespace
		}
		if !foreign && ns != u.Namespace {
			resource := ns
			if e := r.PathValue("id"); e != "" {
				resource += "/" + e
			}
			writeAPIError(w, r, notAuthorized(resource))
			return
		}
		ctx := context.WithValue(r.Context(), userKey, u)
		r = r.WithContext(context.WithValue(ctx, nsKey, ns))
		h(w, r)
	}
}

// secretMatches reports whether secret is the secret of key ("uuid:secret")
// in time that does not depend on where they differ; the uuid is the
// public half and has been looked up already.
func secretMatches(key, secret string) bool {
	_, want, ok := strings.Cut(key, ":")
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(secret)) == 1
}

// listParams reads a list's limit, skip and count (RestApiCommons ListLimit
// and ListSkip, with their messages).
func listParams(r *http.Request, collection string) (limit, skip int, count bool, msg string) {
	limit, skip = defaultList, 0
	q := r.URL.Query()
	count = q.Get("count") == "true"
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, false, fmt.Sprintf("The value '%s' is not an integer for %s.", v, collection)
		}
		if n < 0 || n > maxListLimit {
			return 0, 0, false, fmt.Sprintf("The value '%d' is not in the range of 0 to %d for %s.", n, maxListLimit, collection)
		}
		limit = n
		if n == 0 {
			limit = maxListLimit
		}
	}
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, false, fmt.Sprintf("The value '%s' is not an integer for %s.", v, collection)
		}
		if n < 0 {
			return 0, 0, false, fmt.Sprintf("The value '%d' is not greater than or equal to 0 for %s.", n, collection)
		}
		skip = n
	}
	return limit, skip, count, ""
}

func page[T any](all []T, limit, skip int) []T {
	if skip >= len(all) {
		return []T{}
	}
	all = all[skip:]
	if len(all) > limit {
		all = all[:limit]
	}
	return all
}
