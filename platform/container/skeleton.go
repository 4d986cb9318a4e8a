package container

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wskx/wskx/internal/jsonmux"
)

// maxArgLen is Linux's MAX_ARG_STRLEN less one: longer parameters reach
// the executable on stdin only.
const maxArgLen = 131071

// SkeletonConfig configures a dockerskeleton-compatible action proxy.
type SkeletonConfig struct {
	Addr   string // listen address, e.g. 127.0.0.1:8080
	Dir    string // where the action's exec lives (created if missing)
	Stdout io.Writer
	Stderr io.Writer
	// Environ is the executable's base environment (default os.Environ()).
	Environ []string
	Logger  *slog.Logger
}

// Skeleton runs native actions the way OpenWhisk's dockerskeleton image
// does: /init places an executable "exec" (a base64 zip holding it, or
// text written as it), /run runs it with the parameters as JSON in argv[1]
// and on stdin, and the last line of its stdout is the result.
type Skeleton struct {
	cfg SkeletonConfig

	mu     sync.Mutex // one activation at a time; guards the fields below
	inited bool
	stub   bool // initialised without code
	env    map[string]string
}

// NewSkeleton makes a skeleton proxy; Serve or Handler put it to work.
func NewSkeleton(cfg SkeletonConfig) *Skeleton {
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Environ == nil {
		cfg.Environ = os.Environ()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// exec runs with Dir as its working directory, so its path must not
	// depend on it.
	if abs, err := filepath.Abs(cfg.Dir); err == nil {
		cfg.Dir = abs
	}
	return &Skeleton{cfg: cfg, env: map[string]string{}}
}

// Handler answers POST /init and POST /run, and anything else with a
// JSON error (404, or 405 for another method), never net/http's text or
// redirect.
func (s *Skeleton) Handler() http.Handler {
	return jsonmux.Container(s.handleInit, s.handleRun)
}

// Serve listens on cfg.Addr until ctx ends.
func (s *Skeleton) Serve(ctx context.Context) error {
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("action dir: %w", err)
	}
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second, DisableGeneralOptionsHandler: true}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	s.cfg.Logger.Info("skeleton listening", "addr", l.Addr().String())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Skeleton) markers() {
	fmt.Fprintln(s.cfg.Stdout, Sentinel)
	fmt.Fprintln(s.cfg.Stderr, Sentinel)
}

func (s *Skeleton) exe() string { return filepath.Join(s.cfg.Dir, "exec") }

func (s *Skeleton) handleInit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inited {
		msg := "Cannot initialize the action more than once."
		fmt.Fprintln(s.cfg.Stderr, msg)
		writeJSON(w, http.StatusForbidden, map[string]string{"error": msg})
		return
	}
	var body struct {
		Value struct {
			Code   *string        `json:"code"`
			Binary bool           `json:"binary"`
			Env    map[string]any `json:"env"`
		} `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "The init request is not a JSON object."})
		return
	}
	v := body.Value
	if err := s.place(v.Code, v.Binary); err != nil {
		fmt.Fprintln(s.cfg.Stdout, "init:", err)
		s.markers()
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "The action failed to generate or locate a binary. See logs for details."})
		return
	}
	for k, val := range v.Env {
		if str, ok := val.(string); ok {
			s.env[k] = str
		} else {
			b, _ := json.Marshal(val)
			s.env[k] = string(b)
		}
	}
	s.inited = true
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// place writes the action's executable; no code makes a stub action.
func (s *Skeleton) place(code *string, binary bool) error {
	if code == nil {
		s.stub = true
		return nil
	}
	if !binary {
		return os.WriteFile(s.exe(), []byte(*code), 0o755)
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*code))
	if err != nil {
		return fmt.Errorf("code is not base64: %w", err)
	}
	if err := unzipTo(data, s.cfg.Dir); err != nil {
		return err
	}
	st, err := os.Stat(s.exe())
	if err != nil {
		return fmt.Errorf("the archive holds no exec: %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return errors.New("exec in the archive is not executable")
	}
	return nil
}

// unzipTo extracts a zip archive into dir, keeping file modes and refusing
// entries that would land outside dir.
func unzipTo(data []byte, dir string) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("code is not a zip archive: %w", err)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		target := filepath.Join(root, filepath.FromSlash(f.Name))
		if target != root && !strings.HasPrefix(target, root+string(filepath.Separator)) {
			return fmt.Errorf("zip entry %q lies outside the action directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := f.Mode().Perm()
		if mode == 0 {
			mode = 0o644
		}
		if err := extractFile(f, target, mode); err != nil {
			return fmt.Errorf("unzip %s: %w", f.Name, err)
		}
	}
	return nil
}

func extractFile(f *zip.File, target string, mode os.FileMode) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(target, mode)
}

func (s *Skeleton) handleRun(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.markers()
	var msg map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "The action did not receive a dictionary or array as an argument."})
		return
	}
	args := bytes.TrimSpace(msg["value"])
	if len(args) == 0 {
		args = []byte("{}")
	}
	if args[0] != '{' && args[0] != '[' {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "The action did not receive a dictionary or array as an argument."})
		return
	}
	if !s.inited && !s.stub {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "The action failed to locate a binary. See logs for details."})
		return
	}
	if s.stub {
		fmt.Fprintln(s.cfg.Stdout, "This native action was created without an executable.")
		writeJSON(w, http.StatusOK, map[string]string{"error": "The action has no executable: create it with a zip holding exec."})
		return
	}
	env := append([]string(nil), s.cfg.Environ...)
	for k, v := range s.env {
		env = append(env, k+"="+v)
	}
	for k, raw := range msg {
		if k == "value" {
			continue
		}
		var str string
		if json.Unmarshal(raw, &str) != nil {
			str = string(raw)
		}
		env = append(env, "__OW_"+strings.ToUpper(k)+"="+str)
	}
	status, result := s.execute(r.Context(), args, env)
	writeJSON(w, status, result)
}

// execute runs exec and reads its last stdout line as the result; earlier
// lines go to the proxy's stdout as they come.
func (s *Skeleton) execute(ctx context.Context, args []byte, env []string) (int, any) {
	notDict := map[string]string{"error": "The action did not return a dictionary or array."}
	var cmd *exec.Cmd
	if len(args) > maxArgLen {
		cmd = exec.CommandContext(ctx, s.exe())
	} else {
		cmd = exec.CommandContext(ctx, s.exe(), string(args))
	}
	cmd.Dir = s.cfg.Dir
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(args)
	lw := &lastLineWriter{out: s.cfg.Stdout}
	cmd.Stdout = lw
	cmd.Stderr = s.cfg.Stderr
	// Children left holding the output pipe must not hold the reply.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			fmt.Fprintln(s.cfg.Stdout, err)
			return http.StatusBadGateway, notDict
		}
	}
	last := strings.TrimSpace(lw.last())
	var v any
	if err := json.Unmarshal([]byte(last), &v); err == nil {
		switch v.(type) {
		case map[string]any, []any:
			return http.StatusOK, json.RawMessage(last)
		}
	}
	if last != "" {
		fmt.Fprintln(s.cfg.Stdout, last)
	}
	return http.StatusBadGateway, notDict
}

// lastLineWriter forwards complete lines to out but holds back the last
// one, which is the result.
type lastLineWriter struct {
	out  io.Writer
	buf  []byte // unforwarded output: at most one complete line plus a partial one
	held []byte
}

func (w *lastLineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if w.held != nil {
			w.out.Write(append(w.held, '\n'))
		}
		w.held = append([]byte(nil), w.buf[:i]...)
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// last returns the final line: the unterminated tail if there is one,
// else the last complete line.
func (w *lastLineWriter) last() string {
	if len(bytes.TrimSpace(w.buf)) > 0 {
		if w.held != nil {
			w.out.Write(append(w.held, '\n'))
		}
		return string(w.buf)
	}
	return string(w.held)
}
