package container

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// nobodyID is the uid and gid of "nobody" where the user database does
// not say.
const nobodyID = 65534

// actionUser is the unprivileged user that native and nodejs containers
// run as when the pool runs as root: their code is the user's, and as root
// it would own the host. Blackbox containers are commands the platform's
// operator configured (the wskx runtime among them) and keep the pool's
// user.
//
// Such a container needs a directory it can write and everything it runs
// where it can reach it. Its directory lies in an area of its own under
// the system's temporary directory (root's cache directory usually sits
// under a home directory only root may enter); files it must read from
// places it cannot reach (the wskx binary, the Node.js launcher and
// modules) are copied into the area once per pool.
type actionUser struct {
	uid, gid uint32
	name     string
	dir      string // the area: mode 0711, root's

	mu     sync.Mutex
	shared map[string]string // original path -> path the user can reach
}

// newActionUser returns the user for native and nodejs containers, or nil
// when the pool is not root (they run as the pool's user then).
func newActionUser() (*actionUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u := &actionUser{uid: nobodyID, gid: nobodyID, name: "nobody", shared: map[string]string{}}
	if nb, err := user.Lookup("nobody"); err == nil {
		uid, uerr := strconv.ParseUint(nb.Uid, 10, 32)
		gid, gerr := strconv.ParseUint(nb.Gid, 10, 32)
		if uerr == nil && gerr == nil && uid != 0 {
			u.uid, u.gid = uint32(uid), uint32(gid)
		}
	}
	var lastErr error
	for _, base := range []string{os.TempDir(), "/tmp"} {
		dir, err := os.MkdirTemp(base, "wskx-actions-")
		if err != nil {
			lastErr = err
			continue
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			os.Remove(dir)
			lastErr = err
			continue
		}
		if !u.reachable(dir, 1) {
			os.Remove(dir)
			lastErr = fmt.Errorf("%s is not reachable by uid %d", dir, u.uid)
			continue
		}
		u.dir = dir
		return u, nil
	}
	return nil, fmt.Errorf("unprivileged action user: no directory it can reach: %w", lastErr)
}

func (u *actionUser) credential() *syscall.Credential {
	// Groups empty: none of root's supplementary groups.
	return &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}
}

// containerDir makes a container's working directory, with a temporary
// directory inside, owned by the user; env points HOME and TMPDIR there.
func (u *actionUser) containerDir(id string) (dir string, env []string, err error) {
	dir = filepath.Join(u.dir, id)
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{dir, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("container dir: %w", err)
		}
		if err := os.Chown(d, int(u.uid), int(u.gid)); err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("container dir: %w", err)
		}
	}
	return dir, []string{"HOME=" + dir, "TMPDIR=" + tmp, "USER=" + u.name, "LOGNAME=" + u.name}, nil
}

// share returns a path to path's file or directory tree that the user can
// read (and run), copying it into the area when the original lies out of
// its reach.
func (u *actionUser) share(path string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if p, ok := u.shared[path]; ok {
		return p, nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("share %s: %w", path, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("share %s: %w", path, err)
	}
	want := uint32(4) // read
	if st.IsDir() || st.Mode()&0o111 != 0 {
		want |= 1
	}
	if u.reachable(real, want) {
		u.shared[path] = path
		return path, nil
	}
	dest := filepath.Join(u.dir, "shared", strconv.Itoa(len(u.shared)), filepath.Base(real))
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("share %s: %w", path, err)
	}
	if err := copyTree(real, dest); err != nil {
		return "", fmt.Errorf("share %s: %w", path, err)
	}
	u.shared[path] = dest
	return dest, nil
}

// reachable reports whether the user may reach path with the permission
// bits want (4 read, 1 execute or search): every directory above it must
// let it search. ACLs are not consulted.
func (u *actionUser) reachable(path string, want uint32) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if !u.allowed(d, 1) {
			return false
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return u.allowed(abs, want)
}

func (u *actionUser) allowed(path string, want uint32) bool {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return false
	}
	bits := st.Mode & 0o7
	switch {
	case st.Uid == u.uid:
		bits = st.Mode >> 6 & 0o7
	case st.Gid == u.gid:
		bits = st.Mode >> 3 & 0o7
	}
	return bits&want == want
}

func (u *actionUser) close() error {
	if err := os.RemoveAll(u.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// copyTree copies a file, or a directory and everything under it, to dest,
// readable by everyone and executable where the original was.
func copyTree(src, dest string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dest, rel)
		info, err := os.Stat(path) // follows links: the copy holds their targets
		if err != nil {
			return err
		}
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		mode := os.FileMode(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		return copyFile(path, target, mode)
	})
}

func copyFile(src, dest string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dest, mode)
}
