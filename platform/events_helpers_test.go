package platform

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wskx/wskx/whisk"
)

// fakeClock is a Clock that moves only when a test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []clockWaiter
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !t.After(c.now) {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, clockWaiter{t, ch})
	return ch
}

// Advance moves the clock by d and wakes the waits it ends.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// rawCall sends method url with body (JSON text, "" for none) and key
// as basic auth, and returns the status and the body answered.
func rawCall(t testing.TB, method, url, key, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if id, secret, ok := strings.Cut(key, ":"); ok {
		req.SetBasicAuth(id, secret)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// errorOf is the error message of an OpenWhisk error body, or the body.
func errorOf(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(b)
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// triggerActivations lists the records of a trigger's fires, newest first.
func triggerActivations(t testing.TB, c *whisk.Client, trigger string) []whisk.Activation {
	t.Helper()
	acts, err := c.ListActivations(ctxT(t), whisk.ActivationListOptions{Name: trigger, Docs: true, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

// waitActivation waits for the record of id.
func waitActivation(t testing.TB, c *whisk.Client, id string) *whisk.Activation {
	t.Helper()
	a, err := c.WaitActivation(ctxT(t), id, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("wait activation %s: %v", id, err)
	}
	return a
}

// ruleLines decodes a trigger activation's logs.
func ruleLines(t testing.TB, a *whisk.Activation) []ruleResult {
	t.Helper()
	var out []ruleResult
	for _, l := range a.Logs {
		var r ruleResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

func mustTrigger(t testing.TB, c *whisk.Client, name string, tr *whisk.Trigger) *whisk.Trigger {
	t.Helper()
	if tr == nil {
		tr = &whisk.Trigger{}
	}
	out, err := c.PutTrigger(ctxT(t), name, tr, false)
	if err != nil {
		t.Fatalf("put trigger %s: %v", name, err)
	}
	return out
}

func mustRule(t testing.TB, c *whisk.Client, name, trigger, action string) *whisk.Rule {
	t.Helper()
	out, err := c.PutRule(ctxT(t), name, trigger, action, false)
	if err != nil {
		t.Fatalf("put rule %s: %v", name, err)
	}
	return out
}
