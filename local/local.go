// Package local assembles the built-in OpenWhisk-compatible platform: the
// controller of package platform with the process containers of package
// platform/container, started in-process on a loopback port. It is what
// `wskx run`, `wskx standalone`, the experiments and the end-to-end tests
// run chains on.
package local

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/wskx/wskx/platform"
	"github.com/wskx/wskx/platform/container"
	"github.com/wskx/wskx/whisk"
)

// Options configure a local platform. Zero values take the defaults noted.
type Options struct {
	// DataDir keeps actions and activation records (and the container
	// pool's cache) across restarts; required.
	DataDir string
	// Addr to listen on; "127.0.0.1:0" (a free port) by default.
	Addr string
	// Runtime is the wskx binary that blackbox actions of the wskx runtime
	// image run as (`wskx proxy`); the running executable by default.
	Runtime string
	// CacheDir holds what containers install once (the openwhisk npm
	// package); under DataDir by default.
	CacheDir string
	// NodePath is the node_modules directory holding the openwhisk npm
	// package that nodejs actions require('openwhisk') from (as
	// scripts/npmtools.sh installs it; wskx reads WSKX_NODE_PATH). Empty:
	// the pool installs the package under CacheDir with npm the first
	// time a nodejs action runs. See container.Config.NodePath.
	NodePath string
	// Images maps further blackbox images to local commands.
	Images map[string][]string
	// Key is the key ("uuid:secret") of the user guest. By default the
	// platform generates one on the first start on DataDir and keeps it
	// there; Platform.User says which.
	Key string
	// LengthLimit is the composition component limit (default 50).
	LengthLimit int
	// BlockingWait bounds blocking invokes (default 60 s).
	BlockingWait time.Duration
	// Env is extra environment for every container (for example
	// WSKX_DMTCP_HOME); PATH and HOME are passed on already.
	Env map[string]string
	// Logger defaults to a logger that discards.
	Logger *slog.Logger
}

// Platform is a running local platform.
type Platform struct {
	APIHost string // http://127.0.0.1:PORT
	User    platform.User
	ctrl    *platform.Platform
	pool    *container.Pool
}

// Start starts a local platform.
func Start(ctx context.Context, opts Options) (*Platform, error) {
	if opts.DataDir == "" {
		return nil, fmt.Errorf("start local platform: no data directory")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Runtime == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("start local platform: find the wskx binary: %w", err)
		}
		opts.Runtime = exe
	}
	// The pool maps the wskx runtime image (composer.DefaultImage) to
	// `Runtime proxy` on loopback by itself.
	cache := opts.CacheDir
	if cache == "" {
		cache = filepath.Join(opts.DataDir, "cache")
	}
	pool, err := container.NewPool(container.Config{
		Images:   opts.Images,
		Wskx:     opts.Runtime,
		CacheDir: cache,
		NodePath: opts.NodePath,
		Env:      opts.Env,
		Logger:   opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start local platform: %w", err)
	}
	var users []platform.User
	if opts.Key != "" {
		users = []platform.User{{Namespace: "guest", Key: opts.Key}}
	}
	ctrl, err := platform.New(platform.Config{
		DataDir:      filepath.Join(opts.DataDir, "platform"),
		Users:        users,
		LengthLimit:  opts.LengthLimit,
		BlockingWait: opts.BlockingWait,
		Logger:       opts.Logger,
		Runner:       pool,
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("start local platform: %w", err)
	}
	host, err := ctrl.Start(ctx, opts.Addr)
	if err != nil {
		ctrl.Close()
		pool.Close()
		return nil, fmt.Errorf("start local platform: %w", err)
	}
	return &Platform{APIHost: host, User: ctrl.Users()[0], ctrl: ctrl, pool: pool}, nil
}

// Config is the client configuration for this platform.
func (p *Platform) Config() whisk.Config {
	return whisk.Config{APIHost: p.APIHost, Auth: p.User.Key, Namespace: p.User.Namespace}
}

// Client returns a REST client for this platform.
func (p *Platform) Client() (*whisk.Client, error) {
	return whisk.NewClient(p.Config(), nil)
}

// Close stops the controller and kills every container. Activations still
// running are recorded as internal errors when the same data directory is
// opened again, as after a crash.
func (p *Platform) Close() error {
	err := p.ctrl.Close()
	if perr := p.pool.Close(); err == nil {
		err = perr
	}
	return err
}
