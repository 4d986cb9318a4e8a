package composer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func testingSeedDir() string { return os.Getenv("WSKX_WRITE_FUZZ_SEEDS") }

// writeSeed writes one input in go test's corpus format.
func writeSeed(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
