package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RuntimeImage is the image name of the wskx runtime; NewPool maps it (with
// any tag) to the wskx binary's proxy unless Config.Images maps it.
const RuntimeImage = "wskx/runtime"

// SkeletonImage is OpenWhisk's image for native actions; it runs under the
// pool's own dockerskeleton-compatible proxy.
const SkeletonImage = "openwhisk/dockerskeleton"

// PortPlaceholder in a blackbox command's argv is replaced by the
// container's port; an argv without it gets "--port N" appended.
const PortPlaceholder = "{port}"

// Config configures a Pool. Zero values take the defaults noted.
type Config struct {
	// Images maps blackbox image names to local commands (argv). A key
	// without a tag matches the image with any tag; an exact key wins.
	// The container's port is given by PortPlaceholder in the argv, or
	// else by "--port N" appended. Commands must listen on 127.0.0.1.
	Images map[string][]string
	// Wskx is the wskx binary: it runs native actions ("Wskx skeleton") and, unless
	// Images says otherwise, the wskx runtime image. Default os.Executable().
	Wskx string
	// Node is the Node.js interpreter for nodejs kinds (default "node" on
	// PATH); NPM the npm client (default "npm" on PATH).
	Node, NPM string
	// Python is the Python 3 interpreter for python kinds (default
	// "python3" on PATH).
	Python string
	// CacheDir holds the Node.js launcher, the openwhisk npm package and
	// the containers' working directories (default the user cache dir's
	// wskx/containers).
	CacheDir string
	// IdleTimeout is how long a warm container may sit unused before it is
	// destroyed (default 10 minutes).
	IdleTimeout time.Duration
	// StartTimeout bounds a container's start until it listens (default 30 s).
	StartTimeout time.Duration
	// MemoryLimiter is "auto" (default: cgroup2, else cgroup1, else
	// rlimit-data), or one of LimiterCgroup2, LimiterCgroup1,
	// LimiterRlimit, LimiterNone.
	MemoryLimiter string
	// Env is added to every container's environment (after PATH, HOME and
	// the like, before Spec.Env).
	Env map[string]string
	// LogWait bounds the wait for sentinels after an activation of a
	// runtime that writes them (default 2 s); LogGrace the wait for images
	// that may not (default 200 ms).
	LogWait, LogGrace time.Duration
	// MaxResultSize is the largest result in bytes (default 1 MiB, as
	// OpenWhisk's activation payload limit).
	MaxResultSize int
	// OpenWhiskNPM is the version of the openwhisk npm package installed
	// for nodejs actions (default OpenWhiskNPMVersion).
	OpenWhiskNPM string
	// NodePath is a node_modules directory that holds the openwhisk npm
	// package (as scripts/npmtools.sh installs it), put on nodejs
	// actions' NODE_PATH so that they require('openwhisk') as on
	// OpenWhisk's nodejs runtimes. When it is set the pool installs
	// nothing itself, and a NodePath without the package makes
	// require('openwhisk') fail saying so. Empty: the pool installs
	// openwhisk@OpenWhiskNPM under CacheDir with NPM at the first nodejs
	// container.
	NodePath string
	// Logger receives the pool's own logs (default: discarded).
	Logger *slog.Logger
}

// OpenWhiskNPMVersion is the pinned version of the openwhisk npm package.
const OpenWhiskNPMVersion = "3.21.9"

// RuntimeNodeModules are the other packages Apache's nodejs runtime
// preinstalls (openwhisk-runtime-nodejs core/nodejsActionBase/package.json),
// installed beside openwhisk; keep scripts/npmtools.sh in step. redis is
// 3.x, not the runtime's 4.x: openwhisk-composer's conductor, the nodejs
// action this platform runs most, uses the callback API that 4.x dropped.
var RuntimeNodeModules = []string{"redis@3.1.2", "uuid@8.3.2", "express@4.20.0", "serialize-error@9.1.0"}

// passEnv are the variables of the pool's own environment every container
// gets, so local commands run as they would in a shell.
var passEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SHELL"}

// Pool runs action containers as local processes. It is safe for
// concurrent use.
type Pool struct {
	cfg     Config
	log     *slog.Logger
	mem     memLimiter
	workDir string
	user    *actionUser // nil: native and nodejs containers run as the pool's user
	node    *nodeSupport
	python  *pythonSupport
	spawn   *spawner
	guard   *guard

	mu     sync.Mutex
	idle   map[string][]*proc
	all    map[*proc]struct{}
	seq    int
	closed bool

	stopReaper chan struct{}
	reaperDone chan struct{}
}

// Stats counts a pool's containers.
type Stats struct {
	Busy, Idle int
}

// NewPool prepares a pool: it chooses the memory limiter and creates the
// cache directory. Containers start on demand.
func NewPool(cfg Config) (*Pool, error) {
	if cfg.Wskx == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("wskx binary: %w", err)
		}
		cfg.Wskx = exe
	}
	if cfg.Node == "" {
		cfg.Node = "node"
	}
	if cfg.NPM == "" {
		cfg.NPM = "npm"
	}
	if cfg.Python == "" {
		cfg.Python = "python3"
	}
	if cfg.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cfg.CacheDir = filepath.Join(base, "wskx", "containers")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.LogWait <= 0 {
		cfg.LogWait = 2 * time.Second
	}
	if cfg.LogGrace <= 0 {
		cfg.LogGrace = 200 * time.Millisecond
	}
	if cfg.MaxResultSize <= 0 {
		cfg.MaxResultSize = 1 << 20
	}
	if cfg.OpenWhiskNPM == "" {
		cfg.OpenWhiskNPM = OpenWhiskNPMVersion
	}
	if cfg.NodePath != "" {
		// Containers run in folders of their own.
		abs, err := filepath.Abs(cfg.NodePath)
		if err != nil {
			return nil, fmt.Errorf("node path: %w", err)
		}
		cfg.NodePath = abs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	images := map[string][]string{}
	for k, v := range cfg.Images {
		images[k] = v
	}
	if _, ok := images[RuntimeImage]; !ok {
		images[RuntimeImage] = []string{cfg.Wskx, "proxy", "--host", "127.0.0.1", "--port", PortPlaceholder}
	}
	cfg.Images = images
	if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	work, err := os.MkdirTemp(cfg.CacheDir, "run-")
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	mem, err := newMemLimiter(cfg.MemoryLimiter)
	if err != nil {
		os.RemoveAll(work)
		return nil, fmt.Errorf("memory limiter: %w", err)
	}
	au, err := newActionUser()
	if err != nil {
		mem.close()
		os.RemoveAll(work)
		return nil, err
	}
	p := &Pool{cfg: cfg, log: cfg.Logger, mem: mem, workDir: work, user: au, spawn: newSpawner(), guard: newGuard(cfg.Logger),
		idle: map[string][]*proc{}, all: map[*proc]struct{}{},
		stopReaper: make(chan struct{}), reaperDone: make(chan struct{})}
	p.guard.removeAtDeath(work)
	if au != nil {
		p.guard.removeAtDeath(au.dir)
	}
	p.node = &nodeSupport{pool: p}
	p.python = &pythonSupport{pool: p}
	p.log.Info("container pool ready", "memoryLimiter", mem.name(), "cacheDir", cfg.CacheDir)
	go p.reaper()
	return p, nil
}

// MemoryLimiter names the mechanism that enforces memory limits here:
// LimiterCgroup2, LimiterCgroup1, LimiterRlimit or LimiterNone.
func (p *Pool) MemoryLimiter() string { return p.mem.name() }

// Stats counts the live containers.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s Stats
	for c := range p.all {
		if c.busy {
			s.Busy++
		} else {
			s.Idle++
		}
	}
	return s
}

// Close kills every container, busy or not, and removes the pool's cgroup
// and working directory. Runs still under way fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var all []*proc
	for c := range p.all {
		all = append(all, c)
	}
	p.all = map[*proc]struct{}{}
	p.idle = map[string][]*proc{}
	p.mu.Unlock()
	close(p.stopReaper)
	<-p.reaperDone
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.kill()
		}()
	}
	wg.Wait()
	p.spawn.close()
	err := p.guard.close()
	if merr := p.mem.close(); err == nil {
		err = merr
	}
	if rmErr := os.RemoveAll(p.workDir); rmErr != nil && err == nil {
		err = rmErr
	}
	if p.user != nil {
		if uerr := p.user.close(); err == nil {
			err = uerr
		}
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("close pool: %w", err)
	}
	return nil
}

func (p *Pool) reaper() {
	defer close(p.reaperDone)
	every := p.cfg.IdleTimeout / 4
	if every < 20*time.Millisecond {
		every = 20 * time.Millisecond
	}
	if every > 30*time.Second {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stopReaper:
			return
		case <-t.C:
		}
		var stale []*proc
		p.mu.Lock()
		now := time.Now()
		for key, list := range p.idle {
			keep := list[:0]
			for _, c := range list {
				if now.Sub(c.lastUsed) >= p.cfg.IdleTimeout || !c.alive() {
					stale = append(stale, c)
					delete(p.all, c)
				} else {
					keep = append(keep, c)
				}
			}
			if len(keep) == 0 {
				delete(p.idle, key)
			} else {
				p.idle[key] = keep
			}
		}
		p.mu.Unlock()
		for _, c := range stale {
			p.log.Debug("reap idle container", "container", c.id)
			c.kill()
			os.RemoveAll(c.dir)
		}
	}
}

// flavor is how a container runs an action.
type flavor int

const (
	flavorBlackbox flavor = iota
	flavorNative
	flavorNode
	flavorPython
)

// imageRepo strips the tag or digest from an image name.
func imageRepo(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

// lookupImage finds the command for a blackbox image: the exact name, then
// the name without its tag.
func (p *Pool) lookupImage(image string) ([]string, bool) {
	if argv, ok := p.cfg.Images[image]; ok {
		return argv, true
	}
	argv, ok := p.cfg.Images[imageRepo(image)]
	return argv, ok
}

// withPort puts port into argv by the PortPlaceholder rule.
func withPort(argv []string, port int) []string {
	out := make([]string, 0, len(argv)+2)
	found := false
	for _, a := range argv {
		if strings.Contains(a, PortPlaceholder) {
			found = true
			a = strings.ReplaceAll(a, PortPlaceholder, strconv.Itoa(port))
		}
		out = append(out, a)
	}
	if !found {
		out = append(out, "--port", strconv.Itoa(port))
	}
	return out
}

// containerKey identifies interchangeable containers: same action version,
// and the same code and settings (a guard against an unchanged version).
func containerKey(spec Spec) string {
	h := sha256.New()
	b, _ := json.Marshal([]any{spec.Exec, spec.Limits.Memory, spec.Env, spec.InitEnv})
	h.Write(b)
	return spec.Namespace + "\x00" + spec.Action + "\x00" + spec.Version + "\x00" + hex.EncodeToString(h.Sum(nil)[:12])
}

// acquire takes an idle container for key, or reports none.
func (p *Pool) acquire(key string) (*proc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPoolClosed
	}
	list := p.idle[key]
	for len(list) > 0 {
		c := list[len(list)-1]
		list = list[:len(list)-1]
		if !c.alive() {
			delete(p.all, c)
			go c.kill()
			continue
		}
		p.idle[key] = list
		c.busy = true
		return c, nil
	}
	delete(p.idle, key)
	return nil, nil
}

// release returns a container to the idle list, or destroys it.
func (p *Pool) release(c *proc, keep bool) {
	p.mu.Lock()
	if keep && !p.closed && c.alive() {
		c.busy = false
		c.lastUsed = time.Now()
		p.idle[c.key] = append(p.idle[c.key], c)
		p.mu.Unlock()
		return
	}
	delete(p.all, c)
	p.mu.Unlock()
	c.kill()
	os.RemoveAll(c.dir)
}

var errPoolClosed = errors.New("container pool closed")

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// launch starts a container for spec, retrying when a port clash makes it
// exit before listening.
func (p *Pool) launch(ctx context.Context, spec Spec, fl flavor, argv []string, env []string) (*proc, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPoolClosed
	}
	p.seq++
	id := fmt.Sprintf("c%d", p.seq)
	p.mu.Unlock()
	var cred *syscall.Credential
	var dir string
	if p.user != nil && fl != flavorBlackbox {
		var userEnv []string
		var err error
		if dir, userEnv, err = p.user.containerDir(id); err != nil {
			return nil, err
		}
		env = append(append([]string(nil), env...), userEnv...)
		cred = p.user.credential()
	} else {
		dir = filepath.Join(p.workDir, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("container dir: %w", err)
		}
	}
	memMB := spec.Limits.Memory
	if memMB <= 0 {
		memMB = 256
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("port: %w", err)
		}
		slot, err := p.mem.newSlot(fmt.Sprintf("%s-%d", id, attempt), int64(memMB)<<20)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("memory limit: %w", err)
		}
		c, err := p.startProc(ctx, procSpec{argv: withPort(argv, port), port: port, dir: dir, env: env, slot: slot,
			cred: cred, startTimeout: p.cfg.StartTimeout})
		if err != nil {
			slot.release()
			lastErr = err
			if errors.Is(err, errExitedEarly) {
				continue
			}
			break
		}
		c.id, c.key, c.busy = id, containerKey(spec), true
		c.sentinelled = fl != flavorBlackbox
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.kill()
			os.RemoveAll(dir)
			return nil, errPoolClosed
		}
		p.all[c] = struct{}{}
		p.mu.Unlock()
		p.log.Debug("container started", "container", id, "action", spec.Action, "pid", c.pid, "argv", argv)
		return c, nil
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("start container: %w", lastErr)
}

// baseEnv is the environment of every container before the flavor's own
// additions.
func (p *Pool) baseEnv(spec Spec) []string {
	m := map[string]string{}
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			m[k] = v
		}
	}
	for k, v := range p.cfg.Env {
		m[k] = v
	}
	for k, v := range spec.Env {
		m[k] = v
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	return env
}
