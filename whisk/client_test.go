package whisk_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wskx/wskx/platform"
	"github.com/wskx/wskx/whisk"
)

// TestClientAgainstPlatform drives the local platform. It has no container
// runner, so invocations end as whisk internal errors (the 500 path).
func TestClientAgainstPlatform(t *testing.T) {
	p, err := platform.New(platform.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, err := p.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := whisk.NewClient(whisk.Config{APIHost: url, Auth: p.Users()[0].Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutPackage(ctx, "pkg", &whisk.Package{}, false); err != nil {
		t.Fatal(err)
	}
	a := &whisk.Action{Exec: &whisk.Exec{Kind: "blackbox", Image: "x/y"}}
	if _, err := c.PutAction(ctx, "/guest/pkg/a", a, false); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutAction(ctx, "pkg/a", a, false)
	if !whisk.IsConflict(err) {
		t.Fatalf("second put: %v", err)
	}
	var ae *whisk.APIError
	if !errors.As(err, &ae) || ae.Message != "resource already exists" || len(ae.Code) != 32 {
		t.Errorf("api error %+v", ae)
	}
	inv, err := c.Invoke(ctx, "pkg/a", map[string]int{"n": 1}, whisk.InvokeOptions{Blocking: true})
	if whisk.StatusOf(err) != http.StatusInternalServerError || !errors.As(err, &ae) || ae.ActivationID == "" {
		t.Fatalf("invoke without runner: %v", err)
	}
	if inv.Activation == nil || inv.Activation.Response.Code() != 3 || inv.ActivationID != ae.ActivationID {
		t.Fatalf("invocation %+v", inv)
	}
	res, err := c.ActivationResult(ctx, inv.ActivationID)
	if err != nil || res.Status != whisk.StatusInternalError || res.Success {
		t.Errorf("result %+v, %v", res, err)
	}
	list, err := c.ListActivations(ctx, whisk.ActivationListOptions{Name: "pkg/a"})
	if err != nil || len(list) != 1 || list[0].StatusCode == nil || *list[0].StatusCode != 3 {
		t.Errorf("list %+v, %v", list, err)
	}
	if _, err := c.DeleteAction(ctx, "pkg/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAction(ctx, "pkg/a"); !whisk.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
}

// TestInvokeAnswers checks how the client reads answers the platform gives
// only with real timing: 202 after a blocking wait, and a plain-text error.
func TestInvokeAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/namespaces/_/actions/slow":
			if r.URL.Query().Get("blocking") != "true" || r.URL.Query().Get("timeout") != "1500" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.Header().Set(whisk.ActivationIDHeader, "0123456789abcdef0123456789abcdef")
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"activationId":"0123456789abcdef0123456789abcdef"}`)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "upstream unavailable")
		}
	}))
	defer srv.Close()
	c, err := whisk.NewClient(whisk.Config{APIHost: srv.URL, Auth: "a:b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.Invoke(context.Background(), "slow", nil, whisk.InvokeOptions{Blocking: true, Timeout: 1500 * time.Millisecond})
	if err != nil || !inv.Accepted || inv.ActivationID != "0123456789abcdef0123456789abcdef" || inv.Activation != nil {
		t.Fatalf("invocation %+v, %v", inv, err)
	}
	_, err = c.Invoke(context.Background(), "other", nil, whisk.InvokeOptions{})
	var ae *whisk.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || ae.Message != "upstream unavailable" {
		t.Errorf("error %+v", err)
	}
}
