package platform

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
)

// selfRequest sends a request to the platform's own API, in process and
// with key as basic auth, and returns the status and body answered.
// OpenWhisk's controller invokes a rule's action by posting to its own
// API with the trigger owner's key (Triggers.scala postActivation), and
// the alarms provider fires and deletes triggers through the API with the
// key it was given (openwhisk-package-alarms provider/lib/utils.js
// postTrigger, sanitizer.js); going through the handler keeps every check
// and answer of those paths the API's own.
func (p *Platform) selfRequest(ctx context.Context, method, path, key string, body []byte) (int, []byte) {
	p.selfOnce.Do(func() { p.selfHandler = p.routes() })
	host := strings.TrimPrefix(strings.TrimPrefix(p.APIHost(), "http://"), "https://")
	if host == "" {
		host = "localhost"
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+host+path, bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	if id, secret, ok := strings.Cut(key, ":"); ok {
		req.SetBasicAuth(id, secret)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	p.selfHandler.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, rec.body.Bytes()
}

// escapedPath joins path segments, each escaped, after a slash.
func escapedPath(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// recorder is the ResponseWriter of a selfRequest.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
