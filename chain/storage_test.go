package chain_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/wskx/wskx/internal/blobtest"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/storage"
)

// credentialEnv are the variables the SDKs read their credentials and
// emulator addresses from; the step containers need them, the policy never
// holds them.
var credentialEnv = []string{
	"AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
	"STORAGE_EMULATOR_HOST",
}

// TestChainOnCloudStorage runs the same chain with its checkpoints on each
// real blob server: only the storage URL changes.
func TestChainOnCloudStorage(t *testing.T) {
	for _, be := range blobtest.Backends(t) {
		if be.Name == "file" {
			continue // every other chain test uses file storage
		}
		t.Run(be.Name, func(t *testing.T) {
			blobtest.Require(t, be)
			ctx := context.Background()
			b, err := storage.Open(ctx, be.URL)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.EnsureBucket(ctx); err != nil {
				t.Fatal(err)
			}
			b.Close()

			dir := t.TempDir()
			extra := map[string]string{}
			for _, k := range credentialEnv {
				if v := os.Getenv(k); v != "" {
					extra[k] = v
				}
			}
			e := startPlatformWith(t, dir, extra, 0)
			defer e.lp.Close()
			p := override(t, loadPolicy(t, "deadline.yaml", policies.EngineCooperative, dir),
				policies.Overrides{StorageURL: be.URL, StoragePrefix: fmt.Sprintf("chain-%d/", time.Now().UnixNano())})
			params := map[string]any{"n": 30, "pause_ms": 200}
			want := straight(t, p, params)
			out, comp := runChain(t, e, p, params)
			if !out.Success {
				t.Fatalf("chain failed: %s", out.Result)
			}
			if got := jobResult(t, out.Result); !reflect.DeepEqual(got, want) {
				t.Errorf("result %v, want %v", got, want)
			}
			if out.Summary.Hops < 3 || out.Summary.Totals.UploadMS == 0 {
				t.Errorf("summary %+v: want three hops or more, with uploads", out.Summary)
			}
			checkRecords(t, e.api, comp, out)
		})
	}
}
