package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/runner"
)

// memStore keeps checkpoints in memory.
type memStore struct {
	mu      sync.Mutex
	gens    map[string]map[int]map[string][]byte
	results map[string][]byte
	claims  map[string]string
}

func newMemStore() *memStore {
	return &memStore{gens: map[string]map[int]map[string][]byte{}, results: map[string][]byte{}, claims: map[string]string{}}
}

func (m *memStore) opener() func(context.Context, policies.Storage) (runner.Store, error) {
	return func(context.Context, policies.Storage) (runner.Store, error) { return m, nil }
}

func (m *memStore) Generations(ctx context.Context, job string) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for g := range m.gens[job] {
		out = append(out, g)
	}
	slices.Sort(out)
	return out, nil
}

func (m *memStore) Save(ctx context.Context, job string, gen int, root string, files []string, meta runner.SaveMeta) error {
	g := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return err
		}
		g[f] = b
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gens[job] == nil {
		m.gens[job] = map[int]map[string][]byte{}
	}
	if _, ok := m.gens[job][gen]; ok {
		return fmt.Errorf("generation %d exists", gen)
	}
	m.gens[job][gen] = g
	return nil
}

func (m *memStore) Restore(ctx context.Context, job string, upTo int, root string, engine string) (int, error) {
	gens, _ := m.Generations(ctx, job)
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(gens) - 1; i >= 0; i-- {
		if upTo > 0 && gens[i] > upTo {
			continue
		}
		for f, b := range m.gens[job][gens[i]] {
			p := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return 0, err
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return 0, err
			}
		}
		return gens[i], nil
	}
	return 0, fmt.Errorf("no generation")
}

func (m *memStore) CommitResult(ctx context.Context, job string, result []byte) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.results[job]; ok {
		return r, false, nil
	}
	m.results[job] = result
	return result, true, nil
}

func (m *memStore) Result(ctx context.Context, job string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.results[job]
	return r, ok, nil
}

func (m *memStore) Prune(ctx context.Context, job string, keep int) error {
	gens, _ := m.Generations(ctx, job)
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(gens) > keep {
		delete(m.gens[job], gens[0])
		gens = gens[1:]
	}
	return nil
}

func (m *memStore) Claim(ctx context.Context, job string, hop, attempt int, owner string) (bool, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := fmt.Sprintf("%s/%d/%d", job, hop, attempt)
	if h, ok := m.claims[k]; ok {
		return false, h, nil
	}
	m.claims[k] = owner
	return true, owner, nil
}

func (m *memStore) Close() error { return nil }
