package container

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// launcherJS implements /init and /run for nodejs actions on the
// machine's Node.js.
//
//go:embed launcher.js
var launcherJS []byte

// npmInstallTimeout bounds the one-time install of the openwhisk package.
const npmInstallTimeout = 3 * time.Minute

// nodeSupport prepares what nodejs containers need: the launcher file and
// the openwhisk npm package, each once per pool.
type nodeSupport struct {
	pool *Pool

	mu       sync.Mutex
	launcher string // path once written
	modules  string // NODE_PATH once installed
	npmErr   error  // why the openwhisk package is unavailable
	tried    bool
}

// command returns the launcher's argv (with PortPlaceholder) and the
// environment additions for a nodejs container.
func (n *nodeSupport) command(ctx context.Context) ([]string, []string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cfg := n.pool.cfg
	if n.launcher == "" {
		sum := sha256.Sum256(launcherJS)
		path := filepath.Join(cfg.CacheDir, "launcher-"+hex.EncodeToString(sum[:8])+".js")
		if err := writeFileAtomic(path, launcherJS, 0o644); err != nil {
			return nil, nil, fmt.Errorf("write launcher: %w", err)
		}
		n.launcher = path
	}
	if !n.tried {
		n.tried = true
		if cfg.NodePath != "" {
			if n.npmErr = checkNodePath(cfg.NodePath); n.npmErr == nil {
				n.modules = cfg.NodePath
			}
		} else {
			n.modules, n.npmErr = n.install(context.WithoutCancel(ctx))
			if n.npmErr != nil {
				n.npmErr = fmt.Errorf("the local platform could not install it (%w)", n.npmErr)
			}
		}
		if n.npmErr != nil {
			n.pool.log.Warn("openwhisk npm package unavailable; nodejs actions that require it will fail", "err", n.npmErr)
		}
	}
	argv := []string{cfg.Node, n.launcher, "--port", PortPlaceholder}
	var env []string
	if n.modules != "" {
		env = append(env, "NODE_PATH="+n.modules)
	}
	if n.npmErr != nil {
		argv = append(argv, "--openwhisk-missing", n.npmErr.Error())
	}
	return argv, env, nil
}

// checkNodePath says whether a configured NodePath holds the openwhisk
// package; its error is what require('openwhisk') reports.
func checkNodePath(dir string) error {
	pkg := filepath.Join(dir, "openwhisk", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		return fmt.Errorf("the platform's node path %s has no openwhisk package (no %s); install it with scripts/npmtools.sh install, or point the node path (wskx standalone --node-path, WSKX_NODE_PATH) at the node_modules directory that holds it", dir, pkg)
	}
	return nil
}

// shareNode rewrites a nodejs container's command for the unprivileged
// user: the launcher and the openwhisk modules where it can read them. The
// node binary is not copied (it may need libraries beside it): it must be
// installed where every user can run it.
func (p *Pool) shareNode(argv, env []string) ([]string, []string, error) {
	node, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, nil, err
	}
	if real, err := filepath.EvalSymlinks(node); err != nil || !p.user.reachable(real, 1) {
		return nil, nil, fmt.Errorf("%s cannot be run by uid %d, which nodejs actions run as when the platform is root", node, p.user.uid)
	}
	argv = append([]string(nil), argv...)
	if argv[1], err = p.user.share(argv[1]); err != nil {
		return nil, nil, err
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if dir, ok := strings.CutPrefix(kv, "NODE_PATH="); ok {
			shared, err := p.user.share(dir)
			if err != nil {
				return nil, nil, err
			}
			kv = "NODE_PATH=" + shared
		}
		out = append(out, kv)
	}
	return argv, out, nil
}

// PrepareNode writes the Node.js launcher and installs the openwhisk npm
// package (or checks Config.NodePath) now rather than at the first nodejs
// activation. It reports whether the package is available: its error is
// what require('openwhisk') says in a nodejs action.
func (p *Pool) PrepareNode(ctx context.Context) error {
	if _, _, err := p.node.command(ctx); err != nil {
		return err
	}
	p.node.mu.Lock()
	defer p.node.mu.Unlock()
	return p.node.npmErr
}

// install puts openwhisk@version and RuntimeNodeModules under
// CacheDir/npm/openwhisk-<version>-<hash of the set> unless they are there
// already, and returns its node_modules directory.
func (n *nodeSupport) install(ctx context.Context) (string, error) {
	cfg := n.pool.cfg
	specs := append([]string{"openwhisk@" + cfg.OpenWhiskNPM}, RuntimeNodeModules...)
	sum := sha256.Sum256([]byte(strings.Join(specs, " ")))
	dest := filepath.Join(cfg.CacheDir, "npm", "openwhisk-"+cfg.OpenWhiskNPM+"-"+hex.EncodeToString(sum[:4]))
	modules := filepath.Join(dest, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "openwhisk", "package.json")); err == nil {
		return modules, nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// A package.json of its own keeps npm from climbing to a parent project.
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"name":"wskx-node-modules","private":true}`), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, npmInstallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.NPM, append([]string{"install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error"}, specs...)...)
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	n.pool.log.Info("installing the openwhisk npm package", "version", cfg.OpenWhiskNPM, "dir", dest)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm install openwhisk@%s: %w: %s", cfg.OpenWhiskNPM, err, lastN(strings.Split(strings.TrimSpace(out.String()), "\n"), 3))
	}
	if _, err := os.Stat(filepath.Join(tmp, "node_modules", "openwhisk", "package.json")); err != nil {
		return "", fmt.Errorf("npm install openwhisk@%s: package missing afterwards", cfg.OpenWhiskNPM)
	}
	if err := os.Rename(tmp, dest); err != nil {
		// Another pool sharing the cache dir may have won the race.
		if _, statErr := os.Stat(filepath.Join(modules, "openwhisk", "package.json")); statErr == nil {
			return modules, nil
		}
		return "", fmt.Errorf("install openwhisk package: %w", err)
	}
	return modules, nil
}

// writeFileAtomic writes data to path through a temporary file, so that a
// reader never sees a partial file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, data) {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return errors.Join(fmt.Errorf("write %s", path), err)
	}
	return nil
}
