package whisk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// Config is where and as whom a client talks to OpenWhisk.
type Config struct {
	// APIHost is the API host as wsk knows it: "host:port" (https is
	// implied) or a URL with an http or https scheme.
	APIHost string
	// Auth is the key "uuid:secret".
	Auth string
	// Namespace is the namespace used in paths; empty means "_", the
	// caller's default namespace.
	Namespace string
	// APIVersion defaults to "v1".
	APIVersion string
	// Insecure skips TLS certificate verification.
	Insecure bool
}

// ReadProps parses a wskprops file: KEY=VALUE lines, '#' starting a
// comment. Keys are returned as written.
func ReadProps(r io.Reader) (map[string]string, error) {
	props := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read props: %w", err)
	}
	return props, nil
}

// PropsPath returns the wskprops file wsk would read: $WSK_CONFIG_FILE when
// set (it replaces the home file), else ~/.wskprops.
func PropsPath(getenv func(string) string) string {
	if p := getenv("WSK_CONFIG_FILE"); p != "" {
		return p
	}
	home := getenv("HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = h
		}
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".wskprops")
}

// LoadConfig resolves the configuration as wsk does: the wskprops file
// (a missing file is not an error), then WHISK_AUTH, WHISK_APIHOST and
// WHISK_APIVERSION from the environment. getenv is usually os.Getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	var cfg Config
	if path := PropsPath(getenv); path != "" {
		f, err := os.Open(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return cfg, fmt.Errorf("load config: %w", err)
		default:
			props, err := ReadProps(f)
			f.Close()
			if err != nil {
				return cfg, fmt.Errorf("load config %s: %w", path, err)
			}
			cfg.APIHost = strings.TrimRight(props["APIHOST"], "/")
			cfg.Auth = props["AUTH"]
			cfg.Namespace = props["NAMESPACE"]
			cfg.APIVersion = props["APIVERSION"]
		}
	}
	if v := getenv("WHISK_AUTH"); v != "" {
		cfg.Auth = v
	}
	if v := getenv("WHISK_APIHOST"); v != "" {
		cfg.APIHost = strings.TrimRight(v, "/")
	}
	if v := getenv("WHISK_APIVERSION"); v != "" {
		cfg.APIVersion = v
	}
	return cfg, nil
}

// ConfigFlags are the connection flags every wskx command that talks to
// OpenWhisk accepts. Register them on a flag set, parse, then Resolve.
type ConfigFlags struct {
	APIHost   string
	Auth      string
	Namespace string
	Insecure  bool
}

// Register declares --apihost, --auth, --namespace and -i/--insecure on fs.
func (f *ConfigFlags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.APIHost, "apihost", "", "OpenWhisk API host (default from wskprops or WHISK_APIHOST)")
	fs.StringVar(&f.Auth, "auth", "", "authorization key uuid:secret (default from wskprops or WHISK_AUTH)")
	fs.StringVar(&f.Namespace, "namespace", "", "namespace (default from wskprops, else the key's own)")
	fs.BoolVarP(&f.Insecure, "insecure", "i", false, "skip TLS certificate verification")
}

// Resolve loads the file and environment configuration and lays the flags
// that were given on top of it. It fails when no API host or key is known.
func (f *ConfigFlags) Resolve(getenv func(string) string) (Config, error) {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return cfg, err
	}
	if f.APIHost != "" {
		cfg.APIHost = strings.TrimRight(f.APIHost, "/")
	}
	if f.Auth != "" {
		cfg.Auth = f.Auth
	}
	if f.Namespace != "" {
		cfg.Namespace = f.Namespace
	}
	if f.Insecure {
		cfg.Insecure = true
	}
	if cfg.APIHost == "" {
		return cfg, errors.New("resolve config: no API host (set APIHOST in wskprops, WHISK_APIHOST or --apihost)")
	}
	if cfg.Auth == "" {
		return cfg, errors.New("resolve config: no key (set AUTH in wskprops, WHISK_AUTH or --auth)")
	}
	return cfg, nil
}
