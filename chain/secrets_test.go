package chain_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/chain"
	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
)

// TestNoSecretInCheckpoints runs a chain whose containers hold cloud
// credentials and an encryption key in their environment, and whose steps
// get the API key, with encryption off, then reads every stored object:
// none holds any of those values, nor the deployment's secret. A canary
// the policy passes in job.env shows that a DMTCP image does carry the
// job's environment, so the scan would have seen a leak.
func TestNoSecretInCheckpoints(t *testing.T) {
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			encKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
			secrets := map[string]string{
				"AWS_ACCESS_KEY_ID":         "AKIAWSKXTESTSECRET01",
				"AWS_SECRET_ACCESS_KEY":     "wskx-test-aws-secret-value-8f1c2e",
				"AZURE_STORAGE_KEY":         "wskx-test-azure-secret-value-77ab",
				checkpoint.EncryptionKeyEnv: encKey,
			}
			e := startPlatformWith(t, dir, secrets, 0)
			defer e.lp.Close()
			p := loadPolicy(t, "deadline.yaml", engine, dir)
			const canary = "wskx-canary-in-job-env-41d7"
			p, err := p.With(policies.Overrides{Env: map[string]string{"CANARY": canary}}, "deadline.yaml")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			plan, comp := deployed(t, ctx, e, p)
			deployedStep, err := e.api.GetAction(ctx, plan.Steps[0].Name)
			if err != nil {
				t.Fatal(err)
			}
			stateKey, _ := deployedStep.Parameters.Get(hop.SecretEnv).(string)
			if stateKey == "" {
				t.Fatal("the step has no deployment secret")
			}
			secrets[hop.SecretEnv] = stateKey
			auth := e.lp.Config().Auth
			secrets["__OW_API_KEY"] = auth
			if _, pass, ok := strings.Cut(auth, ":"); ok {
				secrets["the API key's secret part"] = pass
			}

			// Stop the chain mid-way, so that generations are left to read.
			params := map[string]any{"n": 60, "pause_ms": 200}
			fctx, stop := context.WithCancel(ctx)
			hops := 0
			_, _ = follow(fctx, e, comp, params, func(h chain.Hop) {
				if h.Status == string(hop.Checkpointed) {
					if hops++; hops == 2 {
						stop()
					}
				}
			})
			stop()
			if hops < 2 {
				t.Fatalf("only %d hops checkpointed", hops)
			}
			store := strings.TrimPrefix(p.Storage.URL, "file://")
			objects, found := 0, map[string]bool{}
			err = filepath.WalkDir(store, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				objects++
				for name, v := range secrets {
					if bytes.Contains(b, []byte(v)) {
						t.Errorf("%s holds %s", path, name)
					}
				}
				if bytes.Contains(b, []byte(canary)) {
					found[canary] = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if objects == 0 {
				t.Fatal("nothing stored to scan")
			}
			if engine == policies.EngineDMTCP && !found[canary] {
				t.Error("the DMTCP image does not hold the job's own environment: the scan cannot be trusted")
			}
			t.Logf("scanned %d stored objects for %d secret values", objects, len(secrets))
		})
	}
}
