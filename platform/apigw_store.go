package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// gwAPI is one API of a namespace, as the API gateway keeps it: its
// swagger document under a base path.
type gwAPI struct {
	Namespace string  `json:"namespace"`
	Doc       *apiDoc `json:"apidoc"`
}

// apiKey is the base path an API is known by: the gateway's addAPI trims
// the slashes around it, so "/hello" and "/hello/" are one API.
func apiKey(basePath string) string { return "/" + strings.Trim(basePath, "/") }

// apiStore keeps the namespaces' APIs in memory and, with a data
// directory, in apis/<ns>/<base path>.json, each written atomically.
type apiStore struct {
	dir string

	mu   sync.RWMutex
	apis map[string]map[string]*gwAPI // namespace -> apiKey -> API
}

func openAPIStore(dataDir string) (*apiStore, error) {
	s := &apiStore{apis: map[string]map[string]*gwAPI{}}
	if dataDir == "" {
		return s, nil
	}
	s.dir = filepath.Join(dataDir, "apis")
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("open api store: %w", err)
	}
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		var a gwAPI
		if err := readJSON(path, &a); err != nil {
			return err
		}
		if a.Doc != nil && a.Namespace != "" {
			s.put(&a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open api store: %w", err)
	}
	return s, nil
}

func (s *apiStore) file(ns, basePath string) string {
	return filepath.Join(s.dir, fileName(ns), fileName(apiKey(basePath))+".json")
}

func (s *apiStore) put(a *gwAPI) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apis[a.Namespace] == nil {
		s.apis[a.Namespace] = map[string]*gwAPI{}
	}
	s.apis[a.Namespace][apiKey(a.Doc.BasePath)] = a
}

// save stores a, replacing the API of the same base path.
func (s *apiStore) save(a *gwAPI) error {
	if s.dir != "" {
		path := s.file(a.Namespace, a.Doc.BasePath)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("store api: %w", err)
		}
		if err := writeJSON(path, a); err != nil {
			return fmt.Errorf("store api: %w", err)
		}
	}
	s.put(a)
	return nil
}

func (s *apiStore) remove(ns, basePath string) error {
	if s.dir != "" {
		if err := os.Remove(s.file(ns, basePath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete api: %w", err)
		}
	}
	s.mu.Lock()
	delete(s.apis[ns], apiKey(basePath))
	s.mu.Unlock()
	return nil
}

// find is the gateway's getApis: the namespace's APIs, sorted by base
// path, or those of one base path (an argument starting with '/') or
// API name (any other); the documents are copies.
func (s *apiStore) find(ns, bpOrName string) []*gwAPI {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*gwAPI
	for key, a := range s.apis[ns] {
		switch {
		case bpOrName == "":
		case strings.HasPrefix(bpOrName, "/") && key != apiKey(bpOrName):
			continue
		case !strings.HasPrefix(bpOrName, "/") && a.Doc.Info.Title != bpOrName:
			continue
		}
		out = append(out, a.clone())
	}
	sort.Slice(out, func(i, j int) bool { return apiKey(out[i].Doc.BasePath) < apiKey(out[j].Doc.BasePath) })
	return out
}

// clone copies an API deeply enough for a caller to change its paths.
func (a *gwAPI) clone() *gwAPI {
	d := *a.Doc
	d.Paths = make(map[string]map[string]json.RawMessage, len(a.Doc.Paths))
	for p, ops := range a.Doc.Paths {
		m := make(map[string]json.RawMessage, len(ops))
		for k, v := range ops {
			m[k] = v
		}
		d.Paths[p] = m
	}
	return &gwAPI{Namespace: a.Namespace, Doc: &d}
}
