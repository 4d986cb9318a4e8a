package platform

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wskx/wskx/whisk"
)

// interruptedMessage is the result error of an activation that was running
// when the platform stopped.
const interruptedMessage = "The platform stopped while the activation was running."

// store keeps actions and activation records in memory and, with a data
// directory, on disk: actions/<ns>/<name>.json (see fileName),
// activations/<id>.json, and running/<id>.json for activations under way
// (marked once they have run markDelay).
// Every file is written to a temporary name and renamed into place.
type store struct {
	dir string

	mu          sync.RWMutex
	actions     map[string]*whisk.Action     // "ns/[pkg/]name"
	activations map[string]*whisk.Activation // by id
}

func openStore(dir string) (*store, error) {
	s := &store{dir: dir, actions: map[string]*whisk.Action{}, activations: map[string]*whisk.Activation{}}
	if dir == "" {
		return s, nil
	}
	for _, sub := range []string{"actions", "activations", "running"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	err := filepath.WalkDir(filepath.Join(dir, "actions"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		var a whisk.Action
		if err := readJSON(path, &a); err != nil {
			return err
		}
		s.actions[a.Namespace+"/"+a.Name] = &a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open store: load actions: %w", err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "activations"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var a whisk.Activation
		if err := readJSON(filepath.Join(dir, "activations", e.Name()), &a); err != nil {
			return nil, fmt.Errorf("open store: load activation: %w", err)
		}
		s.activations[a.ActivationID] = &a
	}
	return s, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSON writes v to path atomically (temporary file, then rename).
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (s *store) actionFile(ns, name string) string {
	return filepath.Join(s.dir, "actions", fileName(ns), fileName(name)+".json")
}

// maxEscaped bounds an escaped name used as a file name: with ".json" and
// a temporary file's suffix it stays under the usual 255-byte limit.
const maxEscaped = 200

// fileName is a name as a file name: escaped when that is short enough
// (most names, readable), else "~" and the name's SHA-256. Entity names
// never hold "~", so the two forms cannot meet. Loading reads the names
// from the files, so the form is free to change.
func fileName(name string) string {
	if e := url.PathEscape(name); len(e) <= maxEscaped {
		return e
	}
	sum := sha256.Sum256([]byte(name))
	return "~" + hex.EncodeToString(sum[:])
}

func (s *store) getAction(ns, name string) (*whisk.Action, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.actions[ns+"/"+name]
	return a, ok
}

// putAction stores a; the caller has filled Namespace and Name.
func (s *store) putAction(a *whisk.Action) error {
	if s.dir != "" {
		path := s.actionFile(a.Namespace, a.Name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("store action: %w", err)
		}
		if err := writeJSON(path, a); err != nil {
			return fmt.Errorf("store action: %w", err)
		}
	}
	s.mu.Lock()
	s.actions[a.Namespace+"/"+a.Name] = a
	s.mu.Unlock()
	return nil
}

func (s *store) deleteAction(ns, name string) error {
	if s.dir != "" {
		if err := os.Remove(s.actionFile(ns, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete action: %w", err)
		}
	}
	s.mu.Lock()
	delete(s.actions, ns+"/"+name)
	s.mu.Unlock()
	return nil
}

func (s *store) listActions(ns string) []*whisk.Action {
	s.mu.RLock()
	var out []*whisk.Action
	for _, a := range s.actions {
		if a.Namespace == ns {
			out = append(out, a)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// markRunning notes that an activation has started, so that a restart can
// record it if the platform stops first.
func (s *store) markRunning(a *whisk.Activation) {
	if s.dir == "" {
		return
	}
	_ = writeJSON(filepath.Join(s.dir, "running", a.ActivationID+".json"), a)
}

// putActivation stores a finished record and clears its running mark, if
// it has one.
func (s *store) putActivation(a *whisk.Activation) error {
	if s.dir != "" {
		if err := writeJSON(filepath.Join(s.dir, "activations", a.ActivationID+".json"), a); err != nil {
			return fmt.Errorf("store activation: %w", err)
		}
		_ = os.Remove(filepath.Join(s.dir, "running", a.ActivationID+".json"))
	}
	s.mu.Lock()
	s.activations[a.ActivationID] = a
	s.mu.Unlock()
	return nil
}

func (s *store) getActivation(id string) (*whisk.Activation, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.activations[id]
	return a, ok
}

// listActivations returns the namespace's records that keep, newest first.
func (s *store) listActivations(ns string, keep func(*whisk.Activation) bool) []*whisk.Activation {
	s.mu.RLock()
	var out []*whisk.Activation
	for _, a := range s.activations {
		if a.Namespace == ns && keep(a) {
			out = append(out, a)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start > out[j].Start
		}
		return out[i].ActivationID > out[j].ActivationID
	})
	return out
}

// recoverInterrupted turns every running mark into a whisk internal error
// record. It returns how many it recorded.
func (s *store) recoverInterrupted() (int, error) {
	if s.dir == "" {
		return 0, nil
	}
	dir := filepath.Join(s.dir, "running")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	n := 0
	now := time.Now().UnixMilli()
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		if !strings.HasSuffix(e.Name(), ".json") {
			os.Remove(path) // a temporary file left half-written
			continue
		}
		var a whisk.Activation
		if err := readJSON(path, &a); err != nil || a.ActivationID == "" {
			os.Remove(path)
			continue
		}
		if _, done := s.getActivation(a.ActivationID); !done {
			a.End = now
			if a.Duration == 0 {
				a.Duration = now - a.Start
			}
			a.Response = errorResponse(3, interruptedMessage)
			if a.Logs == nil {
				a.Logs = []string{}
			}
			if err := s.putActivation(&a); err != nil {
				return n, err
			}
			n++
		}
		os.Remove(path)
	}
	return n, nil
}

// errorResponse is a response whose result is {"error": msg}.
func errorResponse(code int, msg string) whisk.Response {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return whisk.Response{Status: whisk.StatusString(code), StatusCode: code, Success: code == 0, Result: b}
}
