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

// store keeps actions, packages and activation records in memory and,
// with a data directory, on disk: actions/<ns>/<[pkg/]name>.json and
// packages/<ns>/<name>.json (see fileName), activations/<id>.json, and
// running/<id>.json for activations under way (marked once they have run
// markDelay). Every file is written to a temporary name and renamed into
// place. Entities installed with install (the catalog) live in memory only.
//
// An action in a package is kept as OpenWhisk keeps it: its namespace is
// "ns/pkg" and its name the action's own.
type store struct {
	dir string

	mu          sync.RWMutex
	actions     map[string]*whisk.Action     // "ns/[pkg/]name"
	packages    map[string]*whisk.Package    // "ns/name"
	activations map[string]*whisk.Activation // by id
}

func openStore(dir string) (*store, error) {
	s := &store{dir: dir, actions: map[string]*whisk.Action{}, packages: map[string]*whisk.Package{},
		activations: map[string]*whisk.Activation{}}
	if dir == "" {
		return s, nil
	}
	for _, sub := range []string{"actions", "packages", "activations", "running"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	err := walkJSON(filepath.Join(dir, "actions"), func(path string) error {
		var a whisk.Action
		if err := readJSON(path, &a); err != nil {
			return err
		}
		// Data written before packages existed names a packaged action
		// "pkg/name" in namespace "ns".
		if i := strings.LastIndexByte(a.Name, '/'); i >= 0 {
			a.Namespace, a.Name = a.Namespace+"/"+a.Name[:i], a.Name[i+1:]
		}
		s.actions[a.Namespace+"/"+a.Name] = &a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open store: load actions: %w", err)
	}
	err = walkJSON(filepath.Join(dir, "packages"), func(path string) error {
		var p whisk.Package
		if err := readJSON(path, &p); err != nil {
			return err
		}
		s.packages[p.Namespace+"/"+p.Name] = &p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open store: load packages: %w", err)
	}
	if err := s.adoptOrphans(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
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

// walkJSON calls f for every .json file under dir.
func walkJSON(dir string, f func(path string) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		return f(path)
	})
}

// adoptOrphans gives the actions of data written before packages existed
// the packages their names speak of, so that they stay reachable; not
// where an action has the package's name, which the namespace's names
// cannot hold twice.
func (s *store) adoptOrphans() error {
	now := time.Now().UnixMilli()
	for _, a := range s.actions {
		root, pkg, ok := strings.Cut(a.Namespace, "/")
		if !ok || s.packages[a.Namespace] != nil || s.actions[a.Namespace] != nil {
			continue
		}
		p := &whisk.Package{Namespace: root, Name: pkg, Version: "0.0.1",
			Annotations: whisk.KeyValues{}, Parameters: whisk.KeyValues{}, Updated: now}
		if err := s.putPackage(p); err != nil {
			return err
		}
	}
	return nil
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

// actionFile is where the action ns/[pkg/]name is kept: under its root
// namespace, by its name in that namespace.
func (s *store) actionFile(ns, name string) string {
	root, pkg, ok := strings.Cut(ns, "/")
	if ok {
		name = pkg + "/" + name
	}
	return filepath.Join(s.dir, "actions", fileName(root), fileName(name)+".json")
}

func (s *store) packageFile(ns, name string) string {
	return filepath.Join(s.dir, "packages", fileName(ns), fileName(name)+".json")
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

// getAction finds the action ns/[pkg/]name.
func (s *store) getAction(ns, name string) (*whisk.Action, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.actions[ns+"/"+name]
	return a, ok
}

// putAction stores a; the caller has filled Namespace ("ns" or "ns/pkg")
// and Name.
func (s *store) putAction(a *whisk.Action) error {
	if s.dir != "" {
		if err := writeEntity(s.actionFile(a.Namespace, a.Name), a); err != nil {
			return fmt.Errorf("store action: %w", err)
		}
	}
	s.mu.Lock()
	s.actions[a.Namespace+"/"+a.Name] = a
	s.mu.Unlock()
	return nil
}

func writeEntity(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeJSON(path, v)
}

// deleteAction removes the action a.
func (s *store) deleteAction(a *whisk.Action) error {
	if s.dir != "" {
		if err := os.Remove(s.actionFile(a.Namespace, a.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete action: %w", err)
		}
	}
	s.mu.Lock()
	delete(s.actions, a.Namespace+"/"+a.Name)
	s.mu.Unlock()
	return nil
}

// listActions returns the actions of namespace ns, those in its packages
// included, as OpenWhisk lists a namespace's actions (by the view's root
// namespace key).
func (s *store) listActions(ns string) []*whisk.Action {
	return s.actionsWhere(func(a *whisk.Action) bool { return a.Namespace == ns || strings.HasPrefix(a.Namespace, ns+"/") })
}

// packageActions returns the actions in the package ns/pkg.
func (s *store) packageActions(ns, pkg string) []*whisk.Action {
	full := ns + "/" + pkg
	return s.actionsWhere(func(a *whisk.Action) bool { return a.Namespace == full })
}

func (s *store) actionsWhere(keep func(*whisk.Action) bool) []*whisk.Action {
	s.mu.RLock()
	var out []*whisk.Action
	for _, a := range s.actions {
		if keep(a) {
			out = append(out, a)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}

func (s *store) getPackage(ns, name string) (*whisk.Package, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.packages[ns+"/"+name]
	return p, ok
}

func (s *store) putPackage(p *whisk.Package) error {
	if s.dir != "" {
		if err := writeEntity(s.packageFile(p.Namespace, p.Name), p); err != nil {
			return fmt.Errorf("store package: %w", err)
		}
	}
	s.mu.Lock()
	s.packages[p.Namespace+"/"+p.Name] = p
	s.mu.Unlock()
	return nil
}

func (s *store) deletePackage(p *whisk.Package) error {
	if s.dir != "" {
		if err := os.Remove(s.packageFile(p.Namespace, p.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete package: %w", err)
		}
	}
	s.mu.Lock()
	delete(s.packages, p.Namespace+"/"+p.Name)
	s.mu.Unlock()
	return nil
}

// listPackages returns the packages and bindings of namespace ns, the
// latest updated first, as OpenWhisk's package views sort them.
func (s *store) listPackages(ns string) []*whisk.Package {
	s.mu.RLock()
	var out []*whisk.Package
	for _, p := range s.packages {
		if p.Namespace == ns {
			out = append(out, p)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Updated != out[j].Updated {
			return out[i].Updated > out[j].Updated
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// install puts entities in memory only: the platform's own, which every
// start installs anew.
func (s *store) install(pkgs []*whisk.Package, actions []*whisk.Action) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pkgs {
		s.packages[p.Namespace+"/"+p.Name] = p
	}
	for _, a := range actions {
		s.actions[a.Namespace+"/"+a.Name] = a
	}
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
