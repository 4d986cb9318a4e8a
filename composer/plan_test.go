package composer

import (
	"path/filepath"
	"testing"

	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/whisk"
)

func TestCompileExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/compositions/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			w, err := policies.LoadWorkflow(f)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := CompileWorkflow(w, Options{Namespace: "guest"})
			if err != nil {
				t.Fatal(err)
			}
			jobs := w.Jobs()
			if len(plan.Steps) != len(jobs) || len(plan.Actions) != len(w.Actions) {
				t.Fatalf("%d steps for %d jobs, %d actions for %d", len(plan.Steps), len(jobs), len(plan.Actions), len(w.Actions))
			}
			c, s, p := plan.Conductor, plan.Steps[0], jobs[0].Job
			wantStep := w.Name + "-step"
			if !w.Single {
				wantStep += "-" + p.Name
			}
			if c.Name != w.Name || s.Name != wantStep || c.Namespace != "guest" {
				t.Errorf("names: %s, %s in %s", c.Name, s.Name, c.Namespace)
			}
			if c.Annotations.Get("conductor") != true {
				t.Errorf("conductor annotation missing: %v", c.Annotations)
			}
			if s.Annotations.Get("conductor") != nil {
				t.Errorf("the step must not be a conductor: %v", s.Annotations)
			}
			for _, a := range []struct {
				name string
				kv   any
			}{{"conductor", c.Annotations.Get("provide-api-key")}, {"step", s.Annotations.Get("provide-api-key")}} {
				if a.kv != true {
					t.Errorf("%s: provide-api-key = %v", a.name, a.kv)
				}
			}
			if s.Limits.Timeout != int(p.Job.Timeout.Milliseconds()) || s.Limits.Memory != p.Job.Memory {
				t.Errorf("step limits %+v, policy %s/%d", s.Limits, p.Job.Timeout, p.Job.Memory)
			}
			if c.Exec.Kind != "blackbox" || c.Exec.Image != DefaultImage {
				t.Errorf("conductor exec %+v", c.Exec)
			}

			// Each container must be able to learn its role from /init alone.
			cc, err := ParseCode([]byte(c.Exec.Code))
			if err != nil || cc.Role != RoleConductor {
				t.Fatalf("conductor code: %+v, %v", cc, err)
			}
			if steps, err := cc.Steps(); err != nil || len(steps) != len(plan.Steps) || steps[0] != "/guest/"+s.Name {
				t.Fatalf("conductor's steps: %v, %v", steps, err)
			}
			// Both actions carry the same secret, as an init parameter only.
			for _, a := range []struct {
				name string
				kv   whisk.KeyValues
			}{{"conductor", c.Parameters}, {"step", s.Parameters}} {
				if len(a.kv) != 1 || a.kv[0].Key != hop.SecretEnv || !a.kv[0].Init || a.kv[0].Value != c.Parameters[0].Value {
					t.Errorf("%s parameters %+v, want the one secret as an init parameter", a.name, a.kv)
				}
			}
			secret, err := hop.ParseSecret(c.Parameters[0].Value.(string))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewConductor(cc, secret, ConductorDeps{}); err != nil {
				t.Errorf("conductor code does not compile: %v", err)
			}
			if _, err := NewConductor(cc, nil, ConductorDeps{}); err == nil {
				t.Error("a conductor without its secret was made")
			}
			sc, err := ParseCode([]byte(s.Exec.Code))
			if err != nil || sc.Role != RoleStep || sc.Conductor != "/guest/"+c.Name {
				t.Fatalf("step code: %+v, %v", sc, err)
			}
			if _, err := policies.Parse(sc.Policy, "step"); err != nil {
				t.Errorf("step policy does not parse: %v", err)
			}
		})
	}
}

func TestParseCodeRejects(t *testing.T) {
	for _, src := range []string{
		``, `[]`, `{"wskx":"driver","policy":{}}`, `{"wskx":"step"}`, `{"wskx":"conductor","policy":{"job":{}}}`,
		`{"wskx":"conductor","policy":{"job":{}},"step":"/_/s","baseline":"self-invoke"}`,
		`{"wskx":"step","policy":{"job":{}},"baseline":"no-such"}`,
	} {
		if _, err := ParseCode([]byte(src)); err == nil {
			t.Errorf("ParseCode(%q) accepted it", src)
		}
	}
}
