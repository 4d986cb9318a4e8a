// Package platform is a single-process, OpenWhisk-compatible controller:
// the REST API v1 subset wskx and OpenWhisk's clients use (actions,
// packages and bindings, invocations, activations), sequences and
// conductor actions with OpenWhisk's semantics, activation records, the
// /whisk.system/utils catalog, and persistence of actions, packages and
// records under a data directory.
// Action containers are run by a ContainerRunner (see platform/container).
package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wskx/wskx/platform/container"
)

// ContainerRunner runs one activation in an action container.
// *container.Pool implements it.
type ContainerRunner interface {
	Run(ctx context.Context, spec container.Spec, in container.RunInput) (container.RunOutput, error)
}

// User is a namespace and its key.
type User struct {
	Namespace string
	Key       string // "uuid:secret"
}

// Config configures a Platform. Zero values take the defaults noted.
type Config struct {
	// DataDir keeps actions and activation records across restarts;
	// empty keeps everything in memory.
	DataDir string
	// Users default to guest with a random key: generated once and kept
	// in DataDir (file guest.key), or new on every start without one.
	// Users reports them.
	Users []User
	// LengthLimit is n, the sequence/conductor length limit (default 50).
	LengthLimit int
	// ActionConcurrency bounds concurrent top-level invocations of one
	// action (0: no bound besides the namespace's).
	ActionConcurrency int
	// NamespaceConcurrency bounds concurrent top-level invocations in a
	// namespace (default 30, as OpenWhisk standalone).
	NamespaceConcurrency int
	// BlockingWait is how long a blocking invoke waits before answering
	// 202 (default and maximum of the timeout parameter: 60 s).
	BlockingWait time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Runner runs the action containers; required to invoke anything.
	Runner ContainerRunner
	// APIHost is the URL given to containers as __OW_API_HOST; by
	// default the URL the platform listens on.
	APIHost string
	// AlarmClock is the time source of the alarms feed (default the
	// system's); tests move it by hand.
	AlarmClock Clock
	// AlarmMinute is a minute as the alarms feed counts its intervals
	// (default one minute): a test hook, so that an interval alarm fires
	// within seconds while its parameter stays in minutes.
	AlarmMinute time.Duration
}

// Platform is a running controller. Create it with New.
type Platform struct {
	cfg   Config
	log   *slog.Logger
	users map[string]User // by uuid
	store *store
	apis  *apiStore // API routes (apigw.go)
	// ev holds triggers, rules and alarm registrations, which alarms
	// fires; selfHandler serves selfRequest.
	ev          *events
	alarms      *alarms
	selfOnce    sync.Once
	selfHandler http.Handler

	ctx    context.Context // the platform's lifetime; activations run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// writeMu serializes the writes of actions and packages, so that what
	// a write checks (a package exists, is empty) holds when it is done.
	writeMu sync.Mutex

	mu          sync.Mutex
	inflightNS  map[string]int
	inflightAct map[string]int
	apiHost     string
	servers     []*http.Server
	closed      bool
}

// New opens the data directory (recovering activations that were running
// when the platform last stopped) and returns a platform ready to serve.
func New(cfg Config) (*Platform, error) {
	if cfg.LengthLimit <= 0 {
		cfg.LengthLimit = 50
	}
	if cfg.NamespaceConcurrency <= 0 {
		cfg.NamespaceConcurrency = 30
	}
	if cfg.BlockingWait <= 0 {
		cfg.BlockingWait = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Users) == 0 {
		key, err := guestKey(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("new platform: %w", err)
		}
		cfg.Users = []User{{Namespace: "guest", Key: key}}
	}
	users := map[string]User{}
	for _, u := range cfg.Users {
		id, _, ok := strings.Cut(u.Key, ":")
		if !ok || u.Namespace == "" {
			return nil, fmt.Errorf("new platform: user %q: key must be uuid:secret", u.Namespace)
		}
		users[id] = u
	}
	st, err := openStore(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("new platform: %w", err)
	}
	// The catalog is the platform's: installed anew at every start, never
	// written to the data directory.
	pkgs, actions, err := catalog(time.Now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("new platform: %w", err)
	}
	st.install(pkgs, actions)
	apis, err := openAPIStore(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("new platform: %w", err)
	}
	ev, err := openEvents(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("new platform: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Platform{
		cfg: cfg, log: cfg.Logger, users: users, store: st, apis: apis,
		ctx: ctx, cancel: cancel,
		inflightNS: map[string]int{}, inflightAct: map[string]int{},
		apiHost: cfg.APIHost,
	}
	if n, err := st.recoverInterrupted(); err != nil {
		cancel()
		return nil, fmt.Errorf("new platform: %w", err)
	} else if n > 0 {
		p.log.Info("recorded interrupted activations as internal errors", "count", n)
	}
	p.ev = ev
	p.alarms = newAlarms(p, cfg.AlarmClock, cfg.AlarmMinute)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.alarms.run(p.ctx)
	}()
	return p, nil
}

// Users are the namespaces and keys the platform accepts, as configured or
// generated (see Config.Users).
func (p *Platform) Users() []User { return append([]User(nil), p.cfg.Users...) }

// Handler returns the platform's HTTP handler (the REST API).
func (p *Platform) Handler() http.Handler { return p.routes() }

// Serve answers the API on l until ctx ends or Close is called.
func (p *Platform) Serve(ctx context.Context, l net.Listener) error {
	// DisableGeneralOptionsHandler: "OPTIONS *" gets the API's JSON 404
	// rather than the server's empty 200.
	srv := &http.Server{Handler: p.routes(), ReadHeaderTimeout: 10 * time.Second, DisableGeneralOptionsHandler: true,
		BaseContext: func(net.Listener) context.Context { return p.ctx }}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("serve: platform closed")
	}
	if p.apiHost == "" {
		p.apiHost = "http://" + l.Addr().String()
	}
	p.servers = append(p.servers, srv)
	p.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve: %w", err)
}

// Start listens on addr ("127.0.0.1:3233"; port 0 picks one) and serves in
// the background until ctx ends or Close. It returns the API host URL.
func (p *Platform) Start(ctx context.Context, addr string) (string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("start: %w", err)
	}
	url := "http://" + l.Addr().String()
	p.mu.Lock()
	if p.apiHost == "" {
		p.apiHost = url
	}
	p.mu.Unlock()
	go func() {
		if err := p.Serve(ctx, l); err != nil {
			p.log.Error("platform stopped serving", "err", err)
		}
	}()
	return url, nil
}

// APIHost is the URL containers get as __OW_API_HOST.
func (p *Platform) APIHost() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.apiHost
}

// Close stops serving and abandons running activations: their records are
// not written now, and the next New on the same data directory records
// them as whisk internal errors.
func (p *Platform) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	servers := p.servers
	p.mu.Unlock()
	for _, s := range servers {
		s.Close()
	}
	p.cancel()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.log.Warn("activations still running at close")
	}
	return nil
}

// newID returns a 32-hex-digit id, the form of activation and transaction ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// acquire counts one top-level invocation in flight, or reports the bound
// that refuses it.
func (p *Platform) acquire(ns, action string) (release func(), msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.inflightNS[ns]; n >= p.cfg.NamespaceConcurrency {
		return nil, fmt.Sprintf("Too many concurrent requests in flight (count: %d, allowed: %d).", n, p.cfg.NamespaceConcurrency)
	}
	if lim := p.cfg.ActionConcurrency; lim > 0 && p.inflightAct[action] >= lim {
		return nil, fmt.Sprintf("Too many concurrent requests in flight (count: %d, allowed: %d).", p.inflightAct[action], lim)
	}
	p.inflightNS[ns]++
	p.inflightAct[action]++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.inflightNS[ns]--
			p.inflightAct[action]--
			p.mu.Unlock()
		})
	}, ""
}
