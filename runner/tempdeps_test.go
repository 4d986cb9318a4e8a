package runner_test

import (
	"context"
	"testing"

	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/runner"
)

// testStore is the real checkpoint store on a file bucket of the test's
// own, kept open across the hops of a test so that it can also be looked
// into.
type testStore struct {
	runner.Store
}

func newTestStore(t testing.TB) *testStore {
	t.Helper()
	st, err := runner.OpenStore(context.Background(), policies.Storage{URL: "file://" + t.TempDir(), Keep: 100, Checksum: "sha256"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &testStore{st}
}

// opener hands the store to every hop; a hop's Close leaves it open.
func (m *testStore) opener() func(context.Context, policies.Storage) (runner.Store, error) {
	return func(context.Context, policies.Storage) (runner.Store, error) { return keepOpen{m.Store}, nil }
}

// gens lists the job's whole generations.
func (m *testStore) gens(t *testing.T, job string) []int {
	t.Helper()
	l, err := m.Generations(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, g := range l.Whole {
		out = append(out, g.Generation)
	}
	return out
}

type keepOpen struct{ runner.Store }

func (keepOpen) Close() error { return nil }
