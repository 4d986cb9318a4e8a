// Package npmtest finds the npm packages that scripts/npmtools.sh installs
// for the Node.js tests: the openwhisk client (the node path the built-in
// platform gives nodejs actions) and openwhisk-composer.
//
// Each is taken from its variable when set (WSKX_NODE_PATH,
// WSKX_COMPOSER_HOME), else from the env file that `scripts/npmtools.sh
// install` writes: $WSKX_NPMTOOLS_ENV, else $WSKX_CACHE/npmtools.env, else
// ~/.cache/wskx/npmtools.env. Nothing here changes the process's
// environment.
package npmtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Hint says how to install the packages.
const Hint = "run `make npmtools` (scripts/npmtools.sh install), or set WSKX_NODE_PATH and WSKX_COMPOSER_HOME"

// Tools are the installed packages' locations.
type Tools struct {
	// NodePath is the node_modules directory holding the openwhisk client.
	NodePath string
	// ComposerHome is the openwhisk-composer package directory
	// (bin/compose.js, bin/deploy.js).
	ComposerHome string
	// Node is the node binary on PATH.
	Node string
}

// Compose and Deploy are openwhisk-composer's two commands.
func (t Tools) Compose() string { return filepath.Join(t.ComposerHome, "bin", "compose.js") }
func (t Tools) Deploy() string  { return filepath.Join(t.ComposerHome, "bin", "deploy.js") }

// envFile is where the variables are read from when they are not set.
func envFile() string {
	if p := os.Getenv("WSKX_NPMTOOLS_ENV"); p != "" {
		return p
	}
	cache := os.Getenv("WSKX_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache", "wskx")
	}
	return filepath.Join(cache, "npmtools.env")
}

// lookup returns the variable's value, or the env file's.
func lookup(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	path := envFile()
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && k == name {
			return strings.Trim(v, `'"`)
		}
	}
	return ""
}

// NodePath finds the openwhisk client's node_modules directory; the error
// says what is missing and how to install it.
func NodePath() (string, error) {
	dir := lookup("WSKX_NODE_PATH")
	if dir == "" {
		return "", fmt.Errorf("the openwhisk npm client is not installed (no WSKX_NODE_PATH, no %s): %s", envFile(), Hint)
	}
	if _, err := os.Stat(filepath.Join(dir, "openwhisk", "package.json")); err != nil {
		return "", fmt.Errorf("WSKX_NODE_PATH %s has no openwhisk package: %s", dir, Hint)
	}
	return dir, nil
}

// Find finds node and both packages.
func Find() (Tools, error) {
	var t Tools
	var errs []error
	node, err := exec.LookPath("node")
	if err != nil {
		errs = append(errs, errors.New("node is not installed (apt-get install nodejs npm)"))
	}
	t.Node = node
	if t.NodePath, err = NodePath(); err != nil {
		errs = append(errs, err)
	}
	t.ComposerHome = lookup("WSKX_COMPOSER_HOME")
	switch {
	case t.ComposerHome == "":
		errs = append(errs, fmt.Errorf("openwhisk-composer is not installed (no WSKX_COMPOSER_HOME, no %s): %s", envFile(), Hint))
	default:
		if _, err := os.Stat(t.Deploy()); err != nil {
			errs = append(errs, fmt.Errorf("WSKX_COMPOSER_HOME %s is not an openwhisk-composer package (no bin/deploy.js): %s", t.ComposerHome, Hint))
		}
	}
	return t, errors.Join(errs...)
}
