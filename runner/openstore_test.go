package runner

import (
	"context"
	"testing"

	"github.com/wskx/wskx/policies"
)

// The upload fault needs the real store to expose its manifest hook;
// without it the fault would silently never fire.
func TestOpenStoreHasManifestHook(t *testing.T) {
	st, err := OpenStore(context.Background(), policies.Storage{URL: "file://" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.(beforeManifest); !ok {
		t.Fatalf("%T does not implement beforeManifest", st)
	}
}
