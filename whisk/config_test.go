package whisk

import (
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	home := t.TempDir()
	props, _ := filepath.Abs("testdata/wskprops")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want Config
	}{
		{"file", map[string]string{"HOME": home, "WSK_CONFIG_FILE": props},
			nil, Config{APIHost: "example.org:3233", Auth: "uuid-1:secret", Namespace: "team", APIVersion: "v1"}},
		{"env overrides file", map[string]string{"WSK_CONFIG_FILE": props, "WHISK_AUTH": "u:k", "WHISK_APIHOST": "http://h:1/"},
			nil, Config{APIHost: "http://h:1", Auth: "u:k", Namespace: "team", APIVersion: "v1"}},
		{"flags override env", map[string]string{"WSK_CONFIG_FILE": props, "WHISK_AUTH": "u:k"},
			[]string{"--apihost", "http://f:2/", "--auth", "a:b", "--namespace", "ns", "-i"},
			Config{APIHost: "http://f:2", Auth: "a:b", Namespace: "ns", APIVersion: "v1", Insecure: true}},
		{"missing home file", map[string]string{"HOME": home},
			[]string{"--apihost", "h", "--auth", "a:b"}, Config{APIHost: "h", Auth: "a:b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f ConfigFlags
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := f.Resolve(envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	var f ConfigFlags
	if _, err := f.Resolve(envOf(map[string]string{"HOME": home})); err == nil {
		t.Error("resolve with nothing configured succeeded")
	}
}

func TestNewClientHost(t *testing.T) {
	tests := []struct{ host, base string }{
		{"example.org", "https://example.org/api/v1"},
		{"example.org:443/", "https://example.org:443/api/v1"},
		{"http://127.0.0.1:3233", "http://127.0.0.1:3233/api/v1"},
	}
	for _, tt := range tests {
		c, err := NewClient(Config{APIHost: tt.host, Auth: "a:b"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.base.String(); got != tt.base {
			t.Errorf("%s: base %s, want %s", tt.host, got, tt.base)
		}
	}
	for _, bad := range []Config{{APIHost: "ftp://x", Auth: "a:b"}, {APIHost: "h", Auth: "nocolon"}, {Auth: "a:b"}} {
		if _, err := NewClient(bad, nil); err == nil {
			t.Errorf("NewClient(%+v) succeeded", bad)
		}
	}
}
