package container

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// launcherPy implements /init and /run for python actions on the
// machine's Python 3.
//
//go:embed launcher.py
var launcherPy []byte

// pythonSupport writes the Python launcher once per pool.
type pythonSupport struct {
	pool *Pool

	mu       sync.Mutex
	launcher string // path once written
}

// command returns the launcher's argv (with PortPlaceholder) and the
// environment additions for a python container.
func (s *pythonSupport) command() ([]string, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.pool.cfg
	if s.launcher == "" {
		sum := sha256.Sum256(launcherPy)
		path := filepath.Join(cfg.CacheDir, "launcher-"+hex.EncodeToString(sum[:8])+".py")
		if err := writeFileAtomic(path, launcherPy, 0o644); err != nil {
			return nil, nil, fmt.Errorf("write launcher: %w", err)
		}
		s.launcher = path
	}
	argv := []string{cfg.Python, s.launcher, "--port", PortPlaceholder}
	// As the runtime's exec script sets it; no .pyc files in the action's
	// folder either.
	return argv, []string{"PYTHONIOENCODING=UTF-8", "PYTHONDONTWRITEBYTECODE=1"}, nil
}

// sharePython rewrites a python container's command for the unprivileged
// user: the launcher where it can read it. The interpreter must be
// installed where every user can run it.
func (p *Pool) sharePython(argv []string) ([]string, error) {
	py, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, err
	}
	argv = append([]string(nil), argv...)
	runnable := func(path string) bool {
		real, err := filepath.EvalSymlinks(path)
		return err == nil && p.user.reachable(real, 1)
	}
	if !runnable(py) {
		// A per-user install (pyenv's shims under /root) comes first on
		// root's PATH; another python3 on it, or the system's, will do.
		found := false
		for _, dir := range append(filepath.SplitList(os.Getenv("PATH")), "/usr/bin") {
			if c := filepath.Join(dir, filepath.Base(argv[0])); filepath.IsAbs(c) && runnable(c) {
				argv[0], found = c, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%s cannot be run by uid %d, which python actions run as when the platform is root, and no other %s on PATH can", py, p.user.uid, filepath.Base(argv[0]))
		}
	}
	if argv[1], err = p.user.share(argv[1]); err != nil {
		return nil, err
	}
	return argv, nil
}
