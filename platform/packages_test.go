package platform

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wskx/wskx/whisk"
)

// call sends method path (under /api/v1/namespaces/) with body and key and
// returns the status and the JSON answered, object or array.
func call(t *testing.T, env *testEnv, key, method, path, body string) (int, any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, env.url+"/api/v1/namespaces/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := strings.Cut(key, ":")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: %d, body %q is not JSON", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, v
}

// step is one request and what it must answer: the status, and fields of
// the JSON object (or, with a "len" key, the length of the array).
type step struct {
	method, path, body string
	status             int
	want               map[string]any
}

// run sends each step with key and checks its answer.
func runSteps(t *testing.T, env *testEnv, key string, steps []step) {
	t.Helper()
	for _, s := range steps {
		status, got := call(t, env, key, s.method, s.path, s.body)
		if status != s.status {
			t.Errorf("%s %s: status %d (%v), want %d", s.method, s.path, status, got, s.status)
			continue
		}
		for k, want := range s.want {
			var v any
			if arr, ok := got.([]any); ok && k == "len" {
				v = float64(len(arr))
			} else if obj, ok := got.(map[string]any); ok {
				v = obj[k]
			}
			if string(mustMarshal(v)) != string(mustMarshal(want)) {
				t.Errorf("%s %s: %s = %s, want %s", s.method, s.path, k, mustMarshal(v), mustMarshal(want))
			}
		}
	}
}

func kv(pairs ...any) []any {
	var out []any
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, map[string]any{"key": pairs[i], "value": pairs[i+1]})
	}
	if out == nil {
		return []any{}
	}
	return out
}

// TestPackageCRUD ports WskRestBasicTests' package cases: create, update,
// get its fields, list, duplicates and missing packages, and the
// validation Packages.scala does.
func TestPackageCRUD(t *testing.T) {
	env := startPlatform(t, Config{})
	g := "_/packages/"
	runSteps(t, env, env.key, []step{
		{"PUT", g + "testPackage", `{"parameters":[{"key":"a","value":"A"}],"publish":true}`, 200, map[string]any{
			"namespace": "guest", "name": "testPackage", "version": "0.0.1", "publish": true, "binding": map[string]any{},
			"parameters": kv("a", "A"), "annotations": kv(), "actions": nil}},
		{"PUT", g + "testPackage", `{}`, 409, map[string]any{"error": msgExists}},
		// An update keeps what it does not set; annotations it sets replace.
		{"PUT", g + "testPackage?overwrite=true", `{"annotations":[{"key":"x","value":1}]}`, 200, map[string]any{
			"version": "0.0.2", "publish": true, "parameters": kv("a", "A"), "annotations": kv("x", 1)}},
		{"PUT", g + "testPackage?overwrite=true", `{"annotations":[{"key":"y","value":2}],"version":"1.2.3"}`, 200, map[string]any{
			"version": "1.2.3", "annotations": kv("y", 2)}},
		{"GET", g + "testPackage", "", 200, map[string]any{
			"namespace": "guest", "name": "testPackage", "version": "1.2.3", "publish": true, "binding": map[string]any{},
			"parameters": kv("a", "A"), "actions": []any{}, "feeds": []any{}}},
		{"GET", "_/packages", "", 200, map[string]any{"len": 1}},
		{"GET", g + "package%20with%20spaces", "", 404, map[string]any{"error": "The requested resource 'guest/package with spaces' does not exist."}},
		{"PUT", g + "package%20with%20spaces", "{}", 200, map[string]any{"name": "package with spaces"}},
		{"GET", g + "nonexistentPackage", "", 404, map[string]any{"error": "The requested resource 'guest/nonexistentPackage' does not exist."}},
		{"DELETE", g + "nonexistentPackage", "", 404, map[string]any{"error": msgNotFound}},
		{"PUT", g + "default", `{}`, 400, map[string]any{"error": "Package name 'default' is reserved."}},
		{"PUT", g + "bad$name", `{}`, 400, map[string]any{"error": msgNameIllegal}},
		{"PUT", g + strings.Repeat("p", 257), `{}`, 400, map[string]any{"error": "Name segement longer than allowed: 257 > 256."}},
		{"PUT", g + "m", `{"parameters":3}`, 400, nil},
		{"PUT", g + "m", `{"version":"one"}`, 400, nil},
		{"PUT", g + "m", `{"binding":{"namespace":"guest"}}`, 400, nil},
		// The binding annotation is the platform's to set.
		{"PUT", g + "m", `{"annotations":[{"key":"binding","value":"forged"},{"key":"k","value":"v"}]}`, 200, map[string]any{
			"annotations": kv("k", "v"), "binding": map[string]any{}}},
		{"DELETE", g + "m", "", 200, map[string]any{"name": "m", "annotations": kv("k", "v")}},
		{"GET", g + "m", "", 404, nil},
		{"POST", g + "testPackage", `{}`, 405, map[string]any{"error": msgMethodNotAllowed + "PUT, GET, DELETE"}},
	})
	// The list is the latest updated first, without parameters, a
	// package's binding false.
	_, got := call(t, env, env.key, "GET", "_/packages/", "")
	list := got.([]any)
	if len(list) != 2 {
		t.Fatalf("list %v", list)
	}
	first := list[0].(map[string]any)
	if first["name"] != "package with spaces" || first["binding"] != false || first["parameters"] != nil || first["updated"] == nil {
		t.Errorf("first entry %v", first)
	}
	runSteps(t, env, env.key, []step{
		{"GET", "_/packages?limit=1&skip=1", "", 200, map[string]any{"len": 1}},
		{"GET", "_/packages?count=true", "", 200, map[string]any{"packages": 2}},
		{"GET", "_/packages?limit=300", "", 400, map[string]any{"error": "The value '300' is not in the range of 0 to 200 for packages."}},
	})
}

// TestPackageContents covers actions in a package: created only in an
// existing package, shown by GET of the package (feeds apart), with the
// package's parameters under their own, listed with the namespace
// "ns/pkg", and the package deleted only when empty or forced.
func TestPackageContents(t *testing.T) {
	env := startPlatform(t, Config{})
	c := env.c
	ctx := ctxT(t)
	_, err := c.PutAction(ctx, "pkg/a", testAction("echo"), false)
	if ae := apiErr(t, err, http.StatusNotFound); ae.Message != msgNotFound {
		t.Errorf("action in a missing package: %q", ae.Message)
	}
	mustPutPackage(t, c, "pkg", &whisk.Package{Parameters: whisk.KeyValues{{Key: "p", Value: "pkg"}, {Key: "shared", Value: "pkg"}}})
	a := testAction("echo")
	a.Parameters = whisk.KeyValues{{Key: "shared", Value: "action"}, {Key: "own", Value: 1}}
	created := mustPut(t, c, "pkg/a", a)
	if created.Namespace != "guest/pkg" || created.Name != "a" || len(created.Parameters) != 2 {
		t.Errorf("created %+v", created)
	}
	feed := testAction("echo")
	feed.Annotations = whisk.KeyValues{{Key: "feed", Value: true}}
	mustPut(t, c, "pkg/feed", feed)
	mustPut(t, c, "plain", testAction("echo"))

	runSteps(t, env, env.key, []step{
		{"GET", "_/packages/pkg", "", 200, map[string]any{
			"actions": []any{map[string]any{"name": "a", "version": "0.0.1", "annotations": kv("provide-api-key", false, "exec", "blackbox")}},
			"feeds": []any{map[string]any{"name": "feed", "version": "0.0.1",
				"annotations": kv("feed", true, "provide-api-key", false, "exec", "blackbox")}}}},
		// GET of the action merges the package's parameters under its own.
		{"GET", "_/actions/pkg/a", "", 200, map[string]any{
			"namespace": "guest/pkg", "name": "a", "parameters": kv("p", "pkg", "shared", "action", "own", 1)}},
		{"GET", "_/actions/pkg/", "", 200, map[string]any{"len": 2}},
		{"GET", "_/actions/", "", 200, map[string]any{"len": 3}},
		{"GET", "_/actions?count=true", "", 200, map[string]any{"actions": 3}},
		{"GET", "_/actions/nopkg/", "", 404, map[string]any{"error": msgNotFound}},
		{"GET", "_/actions/nopkg/a", "", 404, map[string]any{"error": msgNotFound}},
		// Actions and packages share a namespace's names.
		{"PUT", "_/actions/pkg", `{"exec":{"kind":"blackbox","image":"wskx/testaction"}}`, 409, map[string]any{"error": msgConformance}},
		{"GET", "_/actions/pkg", "", 409, map[string]any{"error": msgConformance}},
		{"DELETE", "_/actions/pkg", "", 409, map[string]any{"error": msgConformance}},
		{"PUT", "_/packages/plain", `{}`, 409, map[string]any{"error": msgConformance}},
		{"GET", "_/packages/plain", "", 409, map[string]any{"error": msgConformance}},
		{"DELETE", "_/packages/plain", "", 409, map[string]any{"error": msgConformance}},
		{"PUT", "_/actions/plain/x", `{"exec":{"kind":"blackbox","image":"wskx/testaction"}}`, 409, map[string]any{"error": msgConformance}},
		{"DELETE", "_/packages/pkg", "", 409, map[string]any{
			"error": "Package not empty (contains 2 entities). Set force param or delete package contents."}},
		{"DELETE", "_/actions/pkg/feed", "", 200, map[string]any{"namespace": "guest/pkg", "name": "feed"}},
		{"DELETE", "_/packages/pkg", "", 409, map[string]any{
			"error": "Package not empty (contains 1 entity). Set force param or delete package contents."}},
	})
	list, err := c.ListActions(ctx, whisk.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, a := range list {
		names[a.Name] = a.Namespace
	}
	if names["a"] != "guest/pkg" || names["plain"] != "guest" {
		t.Errorf("list names %v", names)
	}

	// The payload goes over the action's parameters, over the package's.
	inv, err := c.Invoke(ctx, "pkg/a", map[string]any{"own": 2}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Activation.Response.Result, `{"p":"pkg","shared":"action","own":2}`)
	if v, _ := annotation(inv.Activation, "path"); v != "guest/pkg/a" {
		t.Errorf("path %v", v)
	}
	if _, ok := annotation(inv.Activation, "binding"); ok {
		t.Errorf("binding annotation on an action invoked in its package")
	}
	if inv.Activation.Namespace != "guest" || inv.Activation.Name != "a" {
		t.Errorf("record %s/%s", inv.Activation.Namespace, inv.Activation.Name)
	}

	if _, err := c.DeletePackage(ctx, "pkg", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAction(ctx, "pkg/a"); !whisk.IsNotFound(err) {
		t.Errorf("action of a force-deleted package: %v", err)
	}
}

// TestBindings ports WskPackageTests: a binding's parameters over the
// package's and under the action's, in GET and in the activation, which
// gets a binding annotation; and the checks Packages.scala makes of a
// binding.
func TestBindings(t *testing.T) {
	env := startPlatform(t, Config{})
	c := env.c
	ctx := ctxT(t)
	mustPutPackage(t, c, "package1", &whisk.Package{Parameters: whisk.KeyValues{{Key: "key1a", Value: "value1a"}, {Key: "key1b", Value: "value1b"}}})
	print := testAction("echo")
	print.Parameters = whisk.KeyValues{{Key: "key0", Value: "value0"}}
	mustPut(t, c, "package1/print", print)
	mustPut(t, c, "anAction", testAction("echo"))
	bound := mustPutPackage(t, c, "package2", &whisk.Package{Binding: &whisk.Binding{Namespace: "_", Name: "package1"},
		Parameters: whisk.KeyValues{{Key: "key2a", Value: "value2a"}, {Key: "key1b", Value: "value2b"}}})
	binding := map[string]any{"namespace": "guest", "name": "package1"}
	if bound.Binding == nil || *bound.Binding != (whisk.Binding{Namespace: "guest", Name: "package1"}) {
		t.Errorf("binding %+v", bound.Binding)
	}

	runSteps(t, env, env.key, []step{
		{"GET", "_/packages/package2", "", 200, map[string]any{
			"namespace": "guest", "name": "package2", "binding": binding,
			"parameters":  kv("key1a", "value1a", "key1b", "value2b", "key2a", "value2a"),
			"annotations": []any{map[string]any{"key": "binding", "value": binding}},
			"actions":     []any{map[string]any{"name": "print", "version": "0.0.1", "annotations": kv("provide-api-key", false, "exec", "blackbox")}}}},
		{"GET", "_/actions/package2/print", "", 200, map[string]any{
			"namespace": "guest/package1", "name": "print",
			"parameters": kv("key1a", "value1a", "key1b", "value2b", "key2a", "value2a", "key0", "value0")}},
		{"GET", "_/actions/package2/", "", 200, map[string]any{"len": 1}},
		{"PUT", "_/actions/package2/new", `{"exec":{"kind":"blackbox","image":"wskx/testaction"}}`, 400, map[string]any{"error": msgNotAllowedOnBinding}},
		{"DELETE", "_/actions/package2/print", "", 400, map[string]any{"error": msgNotAllowedOnBinding}},
		{"PUT", "_/packages/b", `{"binding":{"namespace":"guest","name":"nothere"}}`, 400, map[string]any{"error": msgBindingDoesNotExist}},
		{"PUT", "_/packages/b", `{"binding":{"namespace":"guest","name":"package2"}}`, 400, map[string]any{"error": msgBindingToBinding}},
		{"PUT", "_/packages/b", `{"binding":{"namespace":"guest","name":"anAction"}}`, 409, map[string]any{"error": msgBindingNotPackage}},
		{"PUT", "_/packages/package1?overwrite=true", `{"binding":{"namespace":"guest","name":"package1"}}`, 409, map[string]any{"error": msgPackageCannotBeBinding}},
		// An update that says nothing of the binding keeps it.
		{"PUT", "_/packages/package2?overwrite=true", `{"publish":false}`, 200, map[string]any{"binding": binding, "version": "0.0.2",
			"annotations": []any{map[string]any{"key": "binding", "value": binding}}}},
		{"GET", "_/packages", "", 200, map[string]any{"len": 2}},
	})
	_, got := call(t, env, env.key, "GET", "_/packages", "")
	for _, e := range got.([]any) {
		e := e.(map[string]any)
		want := any(false)
		if e["name"] == "package2" {
			want = binding
		}
		if string(mustMarshal(e["binding"])) != string(mustMarshal(want)) {
			t.Errorf("list entry %v: binding %v, want %v", e["name"], e["binding"], want)
		}
	}

	inv, err := c.Invoke(ctx, "package2/print", map[string]any{"payload": "now"}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := inv.Activation
	jsonEqual(t, rec.Response.Result, `{"key0":"value0","key1a":"value1a","key1b":"value2b","key2a":"value2a","payload":"now"}`)
	for k, want := range map[string]any{"binding": "guest/package2", "path": "guest/package1/print"} {
		if v, _ := annotation(rec, k); v != want {
			t.Errorf("annotation %s = %v, want %v", k, v, want)
		}
	}
	// The activations view keys an activation through a binding by the
	// binding's name.
	for name, want := range map[string]int{"package2/print": 1, "package1/print": 0, "print": 0} {
		if list, err := c.ListActivations(ctx, whisk.ActivationListOptions{Name: name}); err != nil || len(list) != want {
			t.Errorf("activations named %s: %d, %v; want %d", name, len(list), err, want)
		}
	}

	// A sequence of the bound action resolves it through the binding.
	mustPut(t, c, "seq", seqAction("package2/print", "anAction"))
	inv, err = c.Invoke(ctx, "seq", map[string]any{"payload": "seq"}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	first := mustGetActivation(t, c, inv.Activation.Logs[0])
	if v, _ := annotation(first, "binding"); v != "guest/package2" {
		t.Errorf("sequence component binding %v", v)
	}
	jsonEqual(t, inv.Activation.Response.Result, `{"key0":"value0","key1a":"value1a","key1b":"value2b","key2a":"value2a","payload":"seq"}`)

	// A binding is deleted whatever its package holds.
	if _, err := c.DeletePackage(ctx, "package2", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctx, "package2/print", nil, whisk.InvokeOptions{Blocking: true}); !whisk.IsNotFound(err) {
		t.Errorf("invoke through a deleted binding: %v", err)
	}
}

// TestSharedPackages follows PackageCollection's entitlement: another
// namespace reads and invokes a shared package's actions and binds it; a
// private package, a binding, a missing package or any write answers 403
// naming the resource, never 404.
func TestSharedPackages(t *testing.T) {
	other := User{Namespace: "other", Key: "11111111-2222-3333-4444-555555555555:secret"}
	env := startPlatform(t, Config{Users: []User{{Namespace: "guest", Key: testKey}, other}})
	c, oc := env.c, clientFor(t, env.url, other.Key, "")
	ctx := ctxT(t)
	mustPutPackage(t, c, "shared", &whisk.Package{Publish: true, Parameters: whisk.KeyValues{{Key: "from", Value: "shared"}}})
	mustPutPackage(t, c, "private", nil)
	mustPut(t, c, "shared/a", testAction("echo"))
	mustPut(t, c, "private/b", testAction("echo"))
	mustPut(t, c, "mine", testAction("echo"))
	// A published binding is still not shared.
	mustPutPackage(t, c, "sharedbinding", &whisk.Package{Publish: true, Binding: &whisk.Binding{Namespace: "guest", Name: "shared"}})

	forbidden := func(what string) map[string]any {
		return map[string]any{"error": fmt.Sprintf("The supplied authentication is not authorized to access '%s'.", what)}
	}
	act := `{"exec":{"kind":"blackbox","image":"wskx/testaction","code":"echo"}}`
	runSteps(t, env, other.Key, []step{
		{"GET", "guest/packages/shared", "", 200, map[string]any{"namespace": "guest", "name": "shared", "publish": true,
			"actions": []any{map[string]any{"name": "a", "version": "0.0.1", "annotations": kv("provide-api-key", false, "exec", "blackbox")}}}},
		{"GET", "guest/packages/private", "", 403, forbidden("guest/private")},
		{"GET", "guest/packages/missing", "", 403, forbidden("guest/missing")},
		{"GET", "guest/packages/sharedbinding", "", 403, forbidden("guest/sharedbinding")},
		{"GET", "guest/packages", "", 200, map[string]any{"len": 1}},
		{"GET", "guest/actions/shared/a", "", 200, map[string]any{"namespace": "guest/shared", "parameters": kv("from", "shared")}},
		{"GET", "guest/actions/shared/", "", 200, map[string]any{"len": 1}},
		{"GET", "guest/actions/private/b", "", 403, forbidden("guest/private")},
		{"POST", "guest/actions/private/b?blocking=true", `{}`, 403, forbidden("guest/private")},
		{"GET", "guest/actions/private/", "", 403, forbidden("guest/private")},
		{"GET", "guest/actions/mine", "", 403, forbidden("guest/mine")},
		{"GET", "guest/actions", "", 403, forbidden("guest")},
		{"GET", "guest/actions/", "", 403, forbidden("guest")},
		{"PUT", "guest/actions/shared/x", act, 403, forbidden("guest/shared/x")},
		{"DELETE", "guest/actions/shared/a", "", 403, forbidden("guest/shared/a")},
		{"PUT", "guest/packages/new", `{}`, 403, forbidden("guest/new")},
		{"DELETE", "guest/packages/shared", "", 403, forbidden("guest/shared")},
		{"GET", "guest/activations", "", 403, forbidden("guest")},
		{"PUT", "_/packages/bad", `{"binding":{"namespace":"guest","name":"private"}}`, 403, forbidden("guest/private")},
		{"PUT", "_/packages/bad", `{"binding":{"namespace":"guest","name":"missing"}}`, 403, forbidden("guest/missing")},
		{"PUT", "_/packages/bind", `{"binding":{"namespace":"guest","name":"shared"},"parameters":[{"key":"by","value":"other"}]}`, 200, nil},
		{"PUT", "_/actions/seq", `{"exec":{"kind":"sequence","components":["/guest/private/b"]}}`, 403, forbidden("guest/private")},
		{"PUT", "_/actions/seq", `{"exec":{"kind":"sequence","components":["/guest/shared/a","bind/a"]}}`, 200, nil},
	})

	inv, err := oc.Invoke(ctx, "/guest/shared/a", map[string]any{"k": 1}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Activation.Response.Result, `{"from":"shared","k":1}`)
	if v, _ := annotation(inv.Activation, "path"); v != "guest/shared/a" || inv.Activation.Namespace != "other" || inv.Activation.Subject != "other" {
		t.Errorf("record %s by %s, path %v", inv.Activation.Namespace, inv.Activation.Subject, v)
	}
	inv, err = oc.Invoke(ctx, "bind/a", nil, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Activation.Response.Result, `{"from":"shared","by":"other"}`)
	if v, _ := annotation(inv.Activation, "binding"); v != "other/bind" {
		t.Errorf("binding annotation %v", v)
	}
	inv, err = oc.Invoke(ctx, "seq", map[string]any{"s": 1}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Activation.Response.Result, `{"from":"shared","by":"other","s":1}`)

	// A conductor's components are checked, then resolved, as
	// PrimitiveActions.tryInvokeNext does.
	if _, err := oc.PutAction(ctx, "cond", conductorAction(), false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ action, result string }{
		{"/guest/private/b", `{"error":"Failed entitlement check for action with name 'guest/private/b' during composition."}`},
		{"/guest/shared/nothere", `{"error":"Failed to resolve action with name 'guest/shared/nothere' during composition."}`},
	} {
		inv, err := oc.Invoke(ctx, "cond", map[string]any{"action": tc.action}, whisk.InvokeOptions{Blocking: true})
		if whisk.StatusOf(err) != http.StatusBadGateway {
			t.Fatalf("conductor to %s: %v", tc.action, err)
		}
		jsonEqual(t, inv.Activation.Response.Result, tc.result)
	}
	inv, err = oc.Invoke(ctx, "cond", map[string]any{"action": "bind/a", "params": map[string]any{"x": 1}}, whisk.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	comp := mustGetActivation(t, oc, inv.Activation.Logs[1])
	jsonEqual(t, comp.Response.Result, `{"from":"shared","by":"other","x":1}`)
	if v, _ := annotation(comp, "binding"); v != "other/bind" {
		t.Errorf("component through a binding: binding annotation %v", v)
	}

	// Once private, the package is out of reach through the binding and
	// the sequence too.
	mustPutPackage(t, c, "shared", &whisk.Package{Publish: false})
	runSteps(t, env, other.Key, []step{
		{"GET", "_/packages/bind", "", 403, forbidden("other/bind")},
		{"POST", "_/actions/bind/a?blocking=true", `{}`, 403, forbidden("other/bind")},
		{"POST", "_/actions/seq?blocking=true", `{}`, 403, forbidden("guest/shared")},
		{"GET", "guest/packages", "", 200, map[string]any{"len": 0}},
	})
	// The owner still reads the binding's package through its own path.
	if _, err := c.GetPackage(ctx, "shared"); err != nil {
		t.Errorf("owner get: %v", err)
	}
}

// TestPackagesOnDisk: packages are files of the data directory, read at
// the next start; actions a data directory kept in packages before they
// existed get their packages.
func TestPackagesOnDisk(t *testing.T) {
	dir := t.TempDir()
	runner := newPool(t)
	p, c := openOn(t, dir, runner)
	mustPutPackage(t, c, "kept", &whisk.Package{Publish: true, Parameters: whisk.KeyValues{{Key: "k", Value: "v"}}})
	mustPutPackage(t, c, "bound", &whisk.Package{Binding: &whisk.Binding{Namespace: "guest", Name: "kept"}})
	if _, err := os.Stat(filepath.Join(dir, "packages", "guest", "kept.json")); err != nil {
		t.Errorf("package file: %v", err)
	}
	mustPut(t, c, "clash", testAction("echo"))
	p.Close()
	// Actions written as data from before packages: "pkg/name" in "ns".
	legacy := filepath.Join(dir, "actions", "guest", url.PathEscape("old/echo")+".json")
	for _, name := range []string{"old/echo", "clash/inner"} {
		a := whisk.Action{Namespace: "guest", Name: name, Version: "0.0.1", Exec: &whisk.Exec{Kind: "blackbox", Image: "wskx/testaction", Code: "echo"},
			Limits: &whisk.Limits{Timeout: defaultTimeout, Memory: defaultMemory, Logs: defaultLogs, Concurrency: 1}}
		if err := writeEntity(filepath.Join(dir, "actions", "guest", url.PathEscape(name)+".json"), a); err != nil {
			t.Fatal(err)
		}
	}

	p, c = openOn(t, dir, runner)
	defer p.Close()
	ctx := ctxT(t)
	got, err := c.GetPackage(ctx, "bound")
	if err != nil || got.Binding == nil || got.Binding.Name != "kept" || got.Parameters.Get("k") != "v" {
		t.Fatalf("binding after restart: %+v, %v", got, err)
	}
	if _, err := c.GetPackage(ctx, "old"); err != nil {
		t.Errorf("package of a legacy action: %v", err)
	}
	// No package where an action has the name.
	if _, err := c.GetPackage(ctx, "clash"); whisk.StatusOf(err) != http.StatusConflict {
		t.Errorf("package named as an action: %v", err)
	}
	inv, err := c.Invoke(ctx, "old/echo", map[string]any{"x": 1}, whisk.InvokeOptions{Blocking: true, Result: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, inv.Result, `{"x":1}`)
	if _, err := c.DeletePackage(ctx, "old", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Errorf("legacy action file after delete: %v", err)
	}
}
