package platform

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var keyRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}:[A-Za-z0-9]{64}$`)

func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k := NewKey()
		if !keyRE.MatchString(k) {
			t.Fatalf("key %q is not uuid:64 letters and digits", k)
		}
		if seen[k] {
			t.Fatalf("key %q twice", k)
		}
		seen[k] = true
	}
}

// TestGuestKey checks the default key: generated once per data directory
// and kept there, new without one, absent when users are configured.
func TestGuestKey(t *testing.T) {
	open := func(cfg Config) *Platform {
		t.Helper()
		cfg.Logger = quietLogger()
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		return p
	}
	key := func(p *Platform) string {
		t.Helper()
		u := p.Users()
		if len(u) != 1 || u[0].Namespace != "guest" || !keyRE.MatchString(u[0].Key) {
			t.Fatalf("users %+v, want guest with a generated key", u)
		}
		return u[0].Key
	}
	dir := t.TempDir()
	first := key(open(Config{DataDir: dir}))
	if again := key(open(Config{DataDir: dir})); again != first {
		t.Errorf("key changed across restarts: %s then %s", first, again)
	}
	st, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if other := key(open(Config{DataDir: t.TempDir()})); other == first {
		t.Error("two data directories share a key")
	}
	if a, b := key(open(Config{})), key(open(Config{})); a == b || a == first {
		t.Error("platforms without a data directory share a key")
	}
	explicit := t.TempDir()
	p := open(Config{DataDir: explicit, Users: []User{{Namespace: "guest", Key: testKey}}})
	if u := p.Users(); len(u) != 1 || u[0].Key != testKey {
		t.Errorf("configured users %+v", u)
	}
	if _, err := os.Stat(filepath.Join(explicit, keyFile)); !os.IsNotExist(err) {
		t.Errorf("a key file was written although users were configured: %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, keyFile), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{DataDir: bad, Logger: quietLogger()}); err == nil {
		t.Error("a malformed key file was accepted")
	}
}
