package runner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wskx/wskx/internal/jsonmux"
)

// Sentinel ends every activation's output on stdout and stderr, so that an
// invoker that waits for it knows the logs of the activation are complete.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// maxBody bounds /init and /run bodies. OpenWhisk caps parameters at 1 MB
// and code at 48 MB; the proxy must accept at least that much.
const maxBody = 64 << 20

// Activation is what a /run request says about the activation it runs.
type Activation struct {
	ID            string
	Namespace     string
	ActionName    string // fully qualified, "/ns/[pkg/]name"
	ActionVersion string
	TransactionID string
	APIHost       string // from the container's __OW_API_HOST
	APIKey        string // empty unless the action has provide-api-key
	// Deadline is when the platform kills the activation; zero when the
	// request named none.
	Deadline time.Time
	// Env is the activation context as the user's code sees it: the /init
	// env, then __OW_<FIELD> for every non-value field of /run and
	// __OW_API_HOST.
	Env map[string]string
}

// Role is what a container does on /run once /init has chosen it.
type Role interface {
	// Run handles one activation. The result must be a JSON object; an
	// error becomes a developer error (non-200) for the platform.
	Run(ctx context.Context, act Activation, params map[string]any) (map[string]any, error)
}

// InitRequest is the "value" of an /init body.
type InitRequest struct {
	Name   string            `json:"name"`
	Main   string            `json:"main"`
	Code   string            `json:"code"`
	Binary bool              `json:"binary"`
	Env    map[string]string `json:"env"`
}

// RoleFactory builds a container's role from its /init code (already
// base64-decoded when binary).
type RoleFactory func(ctx context.Context, code []byte, init InitRequest) (Role, error)

// ProxyConfig configures a Proxy.
type ProxyConfig struct {
	NewRole RoleFactory
	// Stdout and Stderr are the container's log streams; the sentinel is
	// written to both after every activation.
	Stdout, Stderr io.Writer
	// Getenv reads the container's environment (for __OW_API_HOST).
	Getenv func(string) string
	Logger *slog.Logger
}

// Proxy serves OpenWhisk's action container protocol: POST /init once,
// then POST /run for each activation, one at a time.
type Proxy struct {
	cfg ProxyConfig

	initMu      sync.Mutex
	initialized bool
	role        Role
	initEnv     map[string]string

	// run admits one /run at a time; a buffered channel rather than a
	// mutex so that a waiting request gives up when its client does.
	run chan struct{}
	out sync.Mutex // serialises sentinel writes with log writes
}

// NewProxy returns a proxy; serve it with Handler.
func NewProxy(cfg ProxyConfig) *Proxy {
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Proxy{cfg: cfg, run: make(chan struct{}, 1)}
}

// Handler is the proxy's HTTP handler. Every answer is a JSON object,
// refusals included: the invoker reads an error's "error" field.
func (p *Proxy) Handler() http.Handler {
	return jsonmux.Container(p.handleInit, p.handleRun)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusBadGateway
		b, _ = json.Marshal(map[string]string{"error": "the action's result could not be encoded: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

func (p *Proxy) handleInit(w http.ResponseWriter, r *http.Request) {
	p.initMu.Lock()
	defer p.initMu.Unlock()
	if p.initialized {
		// OpenWhisk's container tests look for the message in the
		// container's output as well as in the answer.
		const msg = "Cannot initialize the action more than once."
		fmt.Fprintln(p.cfg.Stderr, msg)
		writeJSON(w, http.StatusForbidden, errorBody(msg))
		return
	}
	var body struct {
		Value InitRequest `json:"value"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("The init request is not valid JSON: "+err.Error()))
		return
	}
	init := body.Value
	if strings.TrimSpace(init.Code) == "" {
		// Blackbox images get /init even without code. OpenWhisk sends
		// only one /init, so the container stays without a role and every
		// /run says so.
		p.initialized = true
		p.initEnv = init.Env
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	code := []byte(init.Code)
	if init.Binary {
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(init.Code))
		if err != nil {
			writeJSON(w, http.StatusBadGateway, errorBody("The binary code is not base64: "+err.Error()))
			return
		}
		code = dec
	}
	role, err := p.cfg.NewRole(r.Context(), code, init)
	if err != nil {
		p.cfg.Logger.Error("init failed", "err", err)
		writeJSON(w, http.StatusBadGateway, errorBody(err.Error()))
		return
	}
	p.initialized, p.role, p.initEnv = true, role, init.Env
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (p *Proxy) handleRun(w http.ResponseWriter, r *http.Request) {
	select {
	case p.run <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	defer func() { <-p.run }()
	defer p.sentinel()

	p.initMu.Lock()
	role, initEnv := p.role, p.initEnv
	p.initMu.Unlock()
	if role == nil {
		writeJSON(w, http.StatusBadGateway, errorBody("no action is defined yet: /init carried no wskx code"))
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("The run request is not valid JSON: "+err.Error()))
		return
	}
	params := map[string]any{}
	if v, ok := body["value"]; ok && string(v) != "null" {
		var list []any
		if err := json.Unmarshal(v, &params); err != nil {
			// A sequence passes an array result on as the next input; the
			// roles take an object, so it arrives boxed as {"value": [...]},
			// the way OpenWhisk's controller boxes a conductor's.
			if json.Unmarshal(v, &list) != nil {
				writeJSON(w, http.StatusBadRequest, errorBody("The run request's value is not a JSON object or array: "+err.Error()))
				return
			}
			params = map[string]any{"value": list}
		}
	}
	act, err := p.activation(body, initEnv)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody(err.Error()))
		return
	}
	ctx := r.Context()
	res, err := role.Run(ctx, act, params)
	switch {
	case err != nil:
		p.cfg.Logger.Error("run failed", "activation", act.ID, "err", err)
		writeJSON(w, http.StatusBadGateway, errorBody(err.Error()))
	case res == nil:
		writeJSON(w, http.StatusBadGateway, errorBody("The action did not return a dictionary."))
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// activation reads the activation context from a /run body.
func (p *Proxy) activation(body map[string]json.RawMessage, initEnv map[string]string) (Activation, error) {
	env := make(map[string]string, len(initEnv)+len(body)+1)
	for k, v := range initEnv {
		env[k] = v
	}
	fields := map[string]string{}
	for k, raw := range body {
		if k == "value" {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			// Numbers (a deadline sent as a number) and anything else keep
			// their JSON text.
			s = string(raw)
		}
		fields[k] = s
		env["__OW_"+strings.ToUpper(k)] = s
	}
	if host := p.cfg.Getenv("__OW_API_HOST"); host != "" {
		env["__OW_API_HOST"] = host
	}
	act := Activation{
		ID: fields["activation_id"], Namespace: fields["namespace"], ActionName: fields["action_name"],
		ActionVersion: fields["action_version"], TransactionID: fields["transaction_id"],
		APIKey: fields["api_key"], APIHost: env["__OW_API_HOST"], Env: env,
	}
	if d := fields["deadline"]; d != "" {
		ms, err := strconv.ParseFloat(d, 64)
		if err != nil {
			return act, fmt.Errorf("the run request's deadline %q is not epoch milliseconds", d)
		}
		act.Deadline = time.UnixMilli(int64(ms))
	}
	return act, nil
}

func listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}

func (p *Proxy) sentinel() {
	p.out.Lock()
	defer p.out.Unlock()
	fmt.Fprintln(p.cfg.Stdout, Sentinel)
	fmt.Fprintln(p.cfg.Stderr, Sentinel)
}

// Serve runs the proxy on addr until ctx ends. ready, when not nil, is
// called with the listening address once the socket is open.
func (p *Proxy) Serve(ctx context.Context, addr string, ready func(addr string)) error {
	// DisableGeneralOptionsHandler: "OPTIONS *" gets the JSON 404 too.
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second, DisableGeneralOptionsHandler: true}
	ln, err := listen(ctx, addr)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("proxy: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("proxy: shutdown: %w", err)
		}
		return nil
	}
}
