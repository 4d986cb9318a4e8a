package platform

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/whisk"
)

func TestActionCRUD(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	c := env.c

	nss, err := c.Namespaces(ctx)
	if err != nil || len(nss) != 1 || nss[0] != "guest" {
		t.Fatalf("namespaces %v, %v", nss, err)
	}
	a := testAction("echo")
	a.Parameters = whisk.KeyValues{{Key: "greeting", Value: "hi"}}
	created, err := c.PutAction(ctx, "echo", a, false)
	if err != nil {
		t.Fatal(err)
	}
	if created.Namespace != "guest" || created.Name != "echo" || created.Version != "0.0.1" {
		t.Errorf("created %+v", created)
	}
	if v := created.Annotations.Get("provide-api-key"); v != false {
		t.Errorf("provide-api-key = %v, want false added on create", v)
	}
	if l := created.Limits; l == nil || *l != (whisk.Limits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1}) {
		t.Errorf("default limits %+v", l)
	}
	_, err = c.PutAction(ctx, "echo", a, false)
	if ae := apiErr(t, err, http.StatusConflict); ae.Message != "resource already exists" || len(ae.Code) != 32 {
		t.Errorf("conflict error %+v", ae)
	}
	updated, err := c.PutAction(ctx, "echo", &whisk.Action{Limits: &whisk.Limits{Timeout: 1000}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Version != "0.0.2" || updated.Limits.Timeout != 1000 || updated.Exec.Code != "echo" || updated.Parameters.Get("greeting") != "hi" {
		t.Errorf("updated %+v", updated)
	}
	mustPutPackage(t, c, "pkg", nil)
	mustPut(t, c, "pkg/inner", testAction("echo"))
	got, err := c.GetAction(ctx, "pkg/inner")
	if err != nil || got.Namespace != "guest/pkg" || got.Name != "inner" {
		t.Fatalf("get pkg/inner: %+v %v", got, err)
	}
	list, err := c.ListActions(ctx, whisk.ListOptions{})
	if err != nil || len(list) != 2 {
		t.Fatalf("list %d, %v", len(list), err)
	}
	list, err = c.ListActions(ctx, whisk.ListOptions{Limit: 1, Skip: 1})
	if err != nil || len(list) != 1 || list[0].Namespace != "guest/pkg" || list[0].Name != "inner" {
		t.Fatalf("list page %+v, %v", list, err)
	}
	if _, err := c.DeleteAction(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAction(ctx, "echo")
	if !whisk.IsNotFound(err) {
		t.Errorf("get deleted: %v", err)
	}
	_, err = c.DeleteAction(ctx, "echo")
	apiErr(t, err, http.StatusNotFound)
}

func TestActionValidation(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	mustPut(t, env.c, "a", testAction("echo"))
	seqOf := func(c ...string) *whisk.Action {
		return &whisk.Action{Exec: &whisk.Exec{Kind: "sequence", Components: c}}
	}
	withLimits := func(l whisk.Limits) *whisk.Action {
		a := testAction("echo")
		a.Limits = &l
		return a
	}
	tests := []struct {
		name   string
		action *whisk.Action
		msg    string
		status int // 400 unless set
	}{
		{"timeout too big", withLimits(whisk.Limits{Timeout: 400000}), "timeout 400000 milliseconds exceeds allowed threshold of 300000 milliseconds", 0},
		{"timeout too small", withLimits(whisk.Limits{Timeout: 50}), "timeout 50 milliseconds below allowed threshold of 100 milliseconds", 0},
		{"memory too big", withLimits(whisk.Limits{Memory: 1024}), "memory 1024 MB exceeds allowed threshold of 512 MB", 0},
		{"memory too small", withLimits(whisk.Limits{Memory: 64}), "memory 64 MB below allowed threshold of 128 MB", 0},
		{"logs too big", withLimits(whisk.Limits{Logs: 11}), "log size 11 MB exceeds allowed threshold of 10 MB", 0},
		{"concurrency", withLimits(whisk.Limits{Concurrency: 2}), "concurrency 2 exceeds allowed threshold of 1", 0},
		{"no exec", &whisk.Action{}, "exec undefined", 0},
		{"empty sequence", seqOf(), msgSequenceNoComponent, 0},
		{"missing component", seqOf("/guest/a", "nothere"), msgSequenceNotFound, 0},
		{"other namespace component", seqOf("/other/a", "/guest/a", "/another/b"),
			"The supplied authentication is not authorized to access 'another/b, other/a'.", http.StatusForbidden},
		{"component in a missing package", seqOf("/guest/nopkg/a"), msgNotFound, http.StatusNotFound},
		{"component in another namespace's package", seqOf("/other/pkg/a"),
			"The supplied authentication is not authorized to access 'other/pkg'.", http.StatusForbidden},
		{"self reference", seqOf("a", "s"), msgSequenceCyclic, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.c.PutAction(ctx, "s", tt.action, true)
			if ae := apiErr(t, err, cmp.Or(tt.status, http.StatusBadRequest)); ae.Message != tt.msg {
				t.Errorf("message %q, want %q", ae.Message, tt.msg)
			}
		})
	}
}

func TestInvoke(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	c := env.c
	echo := testAction("echo")
	echo.Parameters = whisk.KeyValues{{Key: "a", Value: 1}, {Key: "b", Value: "default"}}
	mustPut(t, c, "echo", echo)
	mustPut(t, c, "fail", testAction("fail"))
	mustPut(t, c, "crash", testAction("crash"))

	t.Run("blocking record", func(t *testing.T) {
		inv, err := c.Invoke(ctx, "echo", map[string]any{"b": "given"}, whisk.InvokeOptions{Blocking: true})
		if err != nil {
			t.Fatal(err)
		}
		if inv.Accepted || inv.Activation == nil || len(inv.ActivationID) != 32 || inv.Activation.ActivationID != inv.ActivationID {
			t.Fatalf("invocation %+v", inv)
		}
		rec := inv.Activation
		jsonEqual(t, rec.Response.Result, `{"a":1,"b":"given"}`)
		if rec.Response.Status != "success" || !rec.Response.Success || rec.Response.StatusCode != 0 {
			t.Errorf("response %+v", rec.Response)
		}
		if rec.Namespace != "guest" || rec.Name != "echo" || rec.Subject != "guest" || rec.Version != "0.0.1" || rec.End < rec.Start {
			t.Errorf("record %+v", rec)
		}
		for _, k := range []string{"path", "kind", "limits", "waitTime", "timeout"} {
			if _, ok := annotation(rec, k); !ok {
				t.Errorf("annotation %s missing", k)
			}
		}
		if v, _ := annotation(rec, "path"); v != "guest/echo" {
			t.Errorf("path %v", v)
		}
		logs, err := c.ActivationLogs(ctx, inv.ActivationID)
		if err != nil || len(logs) != 1 {
			t.Fatalf("logs %q, %v", logs, err)
		}
		res, err := c.ActivationResult(ctx, inv.ActivationID)
		if err != nil || res.Status != "success" {
			t.Fatalf("result %+v, %v", res, err)
		}
		jsonEqual(t, res.Result, `{"a":1,"b":"given"}`)
	})
	t.Run("result only", func(t *testing.T) {
		inv, err := c.Invoke(ctx, "echo", map[string]any{"x": true}, whisk.InvokeOptions{Blocking: true, Result: true})
		if err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, inv.Result, `{"a":1,"b":"default","x":true}`)
		if len(inv.ActivationID) != 32 {
			t.Errorf("no activation id header")
		}
	})
	t.Run("non-blocking", func(t *testing.T) {
		inv, err := c.Invoke(ctx, "echo", nil, whisk.InvokeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !inv.Accepted || len(inv.ActivationID) != 32 {
			t.Fatalf("invocation %+v", inv)
		}
		rec, err := c.WaitActivation(ctx, inv.ActivationID, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, rec.Response.Result, `{"a":1,"b":"default"}`)
	})
	errorCases := []struct {
		name, action, status string
		result               string
	}{
		{"application error", "fail", "application error", `{"error":"failed on purpose"}`},
		{"developer error", "crash", "action developer error", `{"error":"The action did not produce a valid response and exited unexpectedly."}`},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := c.Invoke(ctx, tt.action, nil, whisk.InvokeOptions{Blocking: true})
			ae := apiErr(t, err, http.StatusBadGateway)
			if ae.ActivationID == "" || inv == nil || inv.Activation == nil {
				t.Fatalf("invocation %+v, error %+v", inv, ae)
			}
			if inv.Activation.Response.Status != tt.status {
				t.Errorf("status %q", inv.Activation.Response.Status)
			}
			jsonEqual(t, inv.Activation.Response.Result, tt.result)
			inv, err = c.Invoke(ctx, tt.action, nil, whisk.InvokeOptions{Blocking: true, Result: true})
			apiErr(t, err, http.StatusBadGateway)
			jsonEqual(t, inv.Result, tt.result)
		})
	}
	t.Run("bad timeout", func(t *testing.T) {
		_, err := c.Invoke(ctx, "echo", nil, whisk.InvokeOptions{Blocking: true, Timeout: 70 * time.Second})
		if ae := apiErr(t, err, http.StatusBadRequest); ae.Message != "Timeout must be number of milliseconds up to 60000." {
			t.Errorf("message %q", ae.Message)
		}
	})
	t.Run("unknown action", func(t *testing.T) {
		_, err := c.Invoke(ctx, "nothere", nil, whisk.InvokeOptions{Blocking: true})
		if ae := apiErr(t, err, http.StatusNotFound); ae.Message != "The requested resource does not exist." {
			t.Errorf("message %q", ae.Message)
		}
	})
}

func TestActionTimeout(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	a := testAction("sleep")
	a.Limits = &whisk.Limits{Timeout: 300}
	mustPut(t, env.c, "sleepy", a)
	inv, err := env.c.Invoke(ctx, "sleepy", map[string]any{"ms": 5000}, whisk.InvokeOptions{Blocking: true})
	apiErr(t, err, http.StatusBadGateway)
	rec := inv.Activation
	if rec.Response.Status != "action developer error" {
		t.Errorf("status %q", rec.Response.Status)
	}
	jsonEqual(t, rec.Response.Result, `{"error":"The action exceeded its time limits of 300 milliseconds."}`)
	if v, _ := annotation(rec, "timeout"); v != true {
		t.Errorf("timeout annotation %v", v)
	}
	// The container was destroyed; the next activation starts a new one.
	inv, err = env.c.Invoke(ctx, "sleepy", map[string]any{"ms": 1}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, cold := annotation(inv.Activation, "initTime"); !cold {
		t.Errorf("no initTime after the timed-out container was destroyed")
	}
}

func TestBlockingWaitElapsed(t *testing.T) {
	env := startPlatform(t, Config{BlockingWait: 200 * time.Millisecond})
	ctx := ctxT(t)
	mustPut(t, env.c, "sleepy", testAction("sleep"))
	inv, err := env.c.Invoke(ctx, "sleepy", map[string]any{"ms": 1500}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	if !inv.Accepted || len(inv.ActivationID) != 32 || inv.Activation != nil {
		t.Fatalf("invocation %+v, want 202 with an id", inv)
	}
	rec, err := env.c.WaitActivation(ctx, inv.ActivationID, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, rec.Response.Result, `{"slept":1500}`)
}

func TestAuth(t *testing.T) {
	other := User{Namespace: "other", Key: "11111111-2222-3333-4444-555555555555:secret"}
	env := startPlatform(t, Config{Users: []User{{Namespace: "guest", Key: testKey}, other}})
	ctx := ctxT(t)
	mustPut(t, env.c, "mine", testAction("echo"))
	inv, err := env.c.Invoke(ctx, "mine", nil, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	oc := clientFor(t, env.url, other.Key, "")
	tests := []struct {
		name   string
		call   func() error
		status int
	}{
		{"no key", func() error {
			resp, err := http.Get(env.url + "/api/v1/namespaces/_/actions")
			if err != nil {
				return err
			}
			resp.Body.Close()
			return &whisk.APIError{StatusCode: resp.StatusCode}
		}, http.StatusUnauthorized},
		{"wrong secret", func() error {
			_, err := clientFor(t, env.url, testKeyID+":wrong", "").ListActions(ctx, whisk.ListOptions{})
			return err
		}, http.StatusUnauthorized},
		{"unknown key", func() error {
			_, err := clientFor(t, env.url, "nobody:x", "").Namespaces(ctx)
			return err
		}, http.StatusUnauthorized},
		{"other namespace path", func() error {
			_, err := clientFor(t, env.url, other.Key, "guest").ListActions(ctx, whisk.ListOptions{})
			return err
		}, http.StatusForbidden},
		{"fully qualified other action", func() error {
			_, err := oc.GetAction(ctx, "/guest/mine")
			return err
		}, http.StatusForbidden},
		{"other's action unseen", func() error {
			_, err := oc.GetAction(ctx, "mine")
			return err
		}, http.StatusNotFound},
		{"other's activation unseen", func() error {
			_, err := oc.GetActivation(ctx, inv.ActivationID)
			return err
		}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := whisk.StatusOf(tt.call()); got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
		})
	}
	list, err := oc.ListActivations(ctx, whisk.ActivationListOptions{})
	if err != nil || len(list) != 0 {
		t.Errorf("other sees %d activations, %v", len(list), err)
	}
	nss, err := oc.Namespaces(ctx)
	if err != nil || len(nss) != 1 || nss[0] != "other" {
		t.Errorf("namespaces %v %v", nss, err)
	}
}

func TestRunContext(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	plain := testAction("env")
	plain.Limits = &whisk.Limits{Timeout: 5000}
	mustPut(t, env.c, "plain", plain)
	keyed := testAction("env")
	keyed.Annotations = whisk.KeyValues{{Key: "provide-api-key", Value: true}}
	mustPut(t, env.c, "keyed", keyed)
	for _, tt := range []struct {
		action, key string
		timeout     int64
	}{{"plain", "", 5000}, {"keyed", env.key, 60000}} {
		inv, err := env.c.Invoke(ctx, tt.action, map[string]any{"p": 1}, whisk.InvokeOptions{Blocking: true})
		if err != nil {
			t.Fatal(err)
		}
		m := resultMap(t, inv.Activation.Response.Result)
		if got, _ := m["api_key"].(string); got != tt.key {
			t.Errorf("%s: api_key %q, want %q", tt.action, m["api_key"], tt.key)
		}
		if m["activation_id"] != inv.ActivationID || m["namespace"] != "guest" || m["action_name"] != "/guest/"+tt.action {
			t.Errorf("%s: run context %v", tt.action, m)
		}
		ds, _ := m["deadline"].(string)
		deadline, err := strconv.ParseInt(ds, 10, 64)
		if err != nil {
			t.Fatalf("deadline %v is not a string of epoch ms", m["deadline"])
		}
		rec := inv.Activation
		// The deadline is start + timeout, taken when the run was sent.
		if deadline < rec.Start-1000+tt.timeout || deadline > rec.End+tt.timeout {
			t.Errorf("%s: deadline %d not start(%d)+%d", tt.action, deadline, rec.Start, tt.timeout)
		}
	}
}

func TestListActivations(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	mustPut(t, env.c, "one", testAction("echo"))
	mustPutPackage(t, env.c, "pkg", nil)
	mustPut(t, env.c, "pkg/two", testAction("fail"))
	var ids []string
	var starts []int64
	for i, name := range []string{"one", "pkg/two", "one", "pkg/two", "one"} {
		inv, err := env.c.Invoke(ctx, name, map[string]any{"i": i}, whisk.InvokeOptions{Blocking: true})
		if err != nil && whisk.StatusOf(err) != http.StatusBadGateway {
			t.Fatal(err)
		}
		ids = append(ids, inv.ActivationID)
		starts = append(starts, inv.Activation.Start)
		time.Sleep(3 * time.Millisecond) // distinct start times
	}
	idsOf := func(l []whisk.Activation) []string {
		var out []string
		for _, a := range l {
			out = append(out, a.ActivationID)
		}
		return out
	}
	tests := []struct {
		name string
		opts whisk.ActivationListOptions
		want []string
	}{
		{"all newest first", whisk.ActivationListOptions{}, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"name", whisk.ActivationListOptions{Name: "one"}, []string{ids[4], ids[2], ids[0]}},
		{"package name", whisk.ActivationListOptions{Name: "pkg/two"}, []string{ids[3], ids[1]}},
		{"limit skip", whisk.ActivationListOptions{Limit: 2, Skip: 1}, []string{ids[3], ids[2]}},
		{"since upto", whisk.ActivationListOptions{Since: starts[1], Upto: starts[3]}, []string{ids[3], ids[2], ids[1]}},
		{"docs", whisk.ActivationListOptions{Docs: true, Limit: 1}, []string{ids[4]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := env.c.ListActivations(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := idsOf(l)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
			for _, a := range l {
				if tt.opts.Docs != (a.StatusCode == nil) {
					t.Errorf("docs=%v but statusCode %v", tt.opts.Docs, a.StatusCode)
				}
				if tt.opts.Docs && a.Response.Status == "" {
					t.Errorf("full record without response")
				}
				if !tt.opts.Docs && a.Name == "two" && *a.StatusCode != 1 {
					t.Errorf("summary statusCode %d, want 1", *a.StatusCode)
				}
			}
		})
	}
	_, err := env.c.ListActivations(ctx, whisk.ActivationListOptions{Limit: 201})
	apiErr(t, err, http.StatusBadRequest)
	_, err = env.c.GetActivation(ctx, "not-an-id")
	apiErr(t, err, http.StatusBadRequest)
	_, err = env.c.GetActivation(ctx, "0123456789abcdef0123456789abcdef")
	apiErr(t, err, http.StatusNotFound)
}

func TestNamespaceConcurrency(t *testing.T) {
	env := startPlatform(t, Config{NamespaceConcurrency: 1})
	ctx := ctxT(t)
	mustPut(t, env.c, "sleepy", testAction("sleep"))
	first, err := env.c.Invoke(ctx, "sleepy", map[string]any{"ms": 1000}, whisk.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.c.Invoke(ctx, "sleepy", map[string]any{"ms": 1}, whisk.InvokeOptions{})
	if ae := apiErr(t, err, http.StatusTooManyRequests); ae.Message != "Too many concurrent requests in flight (count: 1, allowed: 1)." {
		t.Errorf("message %q", ae.Message)
	}
	if !whisk.IsTooManyRequests(err) {
		t.Error("IsTooManyRequests false")
	}
	if _, err := env.c.WaitActivation(ctx, first.ActivationID, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The bound is released when the activation ends.
	if _, err := env.c.Invoke(ctx, "sleepy", map[string]any{"ms": 1}, whisk.InvokeOptions{Blocking: true}); err != nil {
		t.Fatal(err)
	}
}

func TestActionConcurrency(t *testing.T) {
	env := startPlatform(t, Config{ActionConcurrency: 1})
	ctx := ctxT(t)
	mustPut(t, env.c, "sleepy", testAction("sleep"))
	mustPut(t, env.c, "echo", testAction("echo"))
	first, err := env.c.Invoke(ctx, "sleepy", map[string]any{"ms": 1000}, whisk.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.c.Invoke(ctx, "sleepy", nil, whisk.InvokeOptions{})
	apiErr(t, err, http.StatusTooManyRequests)
	// Another action is not bound by sleepy's count.
	if _, err := env.c.Invoke(ctx, "echo", nil, whisk.InvokeOptions{Blocking: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.c.WaitActivation(ctx, first.ActivationID, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func TestNativeAction(t *testing.T) {
	env := startPlatform(t, Config{})
	ctx := ctxT(t)
	// The parameters arrive as JSON in argv[1]; the last stdout line is the result.
	script := "#!/bin/sh\necho \"got $1\"\necho \"$1\"\n"
	// What wsk action create --native sends: the skeleton image, with a
	// zip (binary is decided from the code) or the script as text.
	for _, exec := range []*whisk.Exec{
		{Kind: "blackbox", Image: "openwhisk/dockerskeleton", Code: zipExec(t, script)},
		{Kind: "blackbox", Image: "openwhisk/dockerskeleton", Code: script},
	} {
		mustPut(t, env.c, "native", &whisk.Action{Exec: exec})
		inv, err := env.c.Invoke(ctx, "native", map[string]any{"n": 7}, whisk.InvokeOptions{Blocking: true})
		if err != nil {
			t.Fatalf("%s: %v", exec.Kind, err)
		}
		jsonEqual(t, inv.Activation.Response.Result, `{"n":7}`)
		logs, err := env.c.ActivationLogs(ctx, inv.ActivationID)
		if err != nil || len(logs) != 1 || !strings.HasSuffix(logs[0], `stdout: got {"n":7}`) {
			t.Errorf("%s: logs %q, %v", exec.Kind, logs, err)
		}
	}
}

func TestSecretMatches(t *testing.T) {
	const key = "11111111-2222-3333-4444-555555555555:s3cret:with:colons"
	tests := []struct {
		secret string
		want   bool
	}{
		{"s3cret:with:colons", true},
		{"s3cret:with:colonz", false},
		{"s3cret", false},
		{"s3cret:with:colons:", false},
		{"", false},
		{key, false},
	}
	for _, tc := range tests {
		if got := secretMatches(key, tc.secret); got != tc.want {
			t.Errorf("secretMatches(%q) = %v, want %v", tc.secret, got, tc.want)
		}
	}
	if secretMatches("no-colon", "") {
		t.Error("a key without a secret matched the empty secret")
	}
}
