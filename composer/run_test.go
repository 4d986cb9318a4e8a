package composer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/hop"
	"github.com/wskx/wskx/policies"
	"github.com/wskx/wskx/storage"
)

// selfPlatform runs a conductor's invocations of itself: each in a
// goroutine of its own, through Conductor.Run, with its result kept by
// activation id. drop makes it lose an invocation (it ends at once and
// never runs, as when a container dies); twice makes it deliver each
// branch twice.
type selfPlatform struct {
	t       *testing.T
	c       *Conductor
	mu      sync.Mutex
	n       int
	results map[string]map[string]any
	wg      sync.WaitGroup
	drop    func(input map[string]any, n int) bool
	twice   bool
	delay   time.Duration // before a branch runs
}

func (p *selfPlatform) InvokeAsync(ctx context.Context, action string, params map[string]any) (string, error) {
	p.mu.Lock()
	p.n++
	id := fmt.Sprintf("act-%d", p.n)
	n := p.n
	p.mu.Unlock()
	input := roundTrip(p.t, params)
	if p.drop != nil && p.drop(input, n) {
		p.mu.Lock()
		p.results[id] = map[string]any{"error": "The action did not produce a valid response and exited unexpectedly."}
		p.mu.Unlock()
		return id, nil
	}
	runs := 1
	if p.twice && isBranch(p.c, input) {
		runs = 2
	}
	for r := range runs {
		// A duplicate delivery is an activation of its own.
		run := id
		if r > 0 {
			run = id + "-again"
		}
		p.wg.Go(func() {
			if p.delay > 0 && isBranch(p.c, input) {
				time.Sleep(p.delay)
			}
			res, err := p.c.Run(ctx, roundTrip(p.t, input), Activation{ID: run, ActionName: action, Deadline: time.Now().Add(time.Minute)})
			if err != nil {
				p.t.Error(err)
			}
			p.mu.Lock()
			p.results[run] = roundTrip(p.t, res)
			p.mu.Unlock()
		})
	}
	return id, nil
}

func (p *selfPlatform) Ended(_ context.Context, id string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.results[id]
	return ok, nil
}

func isBranch(c *Conductor, input map[string]any) bool {
	var st carried
	return hop.Open(c.secret, hop.PurposeBranch, input[hop.StateKey], &st) == nil
}

func fanOutConductor(t *testing.T, join string) (*Conductor, *selfPlatform) {
	t.Helper()
	src := "join: " + join + "\nidempotency_key: params.id\nstorage: {url: \"file://" + t.TempDir() + "\"}\ncomposition:\n  sequence:\n" +
		"    - parallel:\n        - function: '{\"v\": params.n + 1}'\n        - function: '{\"v\": params.n + 2}'\n        - function: '{\"v\": params.n + 3}'\n" +
		"    - function: '{\"sum\": params.value[0].v + params.value[1].v + params.value[2].v}'\n"
	w, err := policies.ParseWorkflow([]byte(src), "w.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	wc, err := workflowCode(w, func(*policies.Node) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	p := &selfPlatform{t: t, results: map[string]map[string]any{}}
	c, err := NewConductor(Code{Role: RoleConductor, Workflow: &wc}, testSecret, ConductorDeps{
		Invoker: func(Activation) (Invoker, error) { return p, nil },
		Joins: func(ctx context.Context, st policies.Storage) (JoinStore, error) {
			b, err := storage.Open(ctx, st.URL)
			if err != nil {
				return nil, err
			}
			return &joinStore{checkpoint.NewStore(b, st.Prefix, checkpoint.Options{}), b}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.poll = 10 * time.Millisecond
	p.c = c
	return c, p
}

type joinStore struct {
	*checkpoint.Store
	b *storage.Bucket
}

func (j *joinStore) Close() error { return j.b.Close() }

// final follows a result's pointers to the workflow's end.
func (p *selfPlatform) final(t *testing.T, res map[string]any) map[string]any {
	t.Helper()
	for range 100 {
		var s hop.Summary
		if params, ok := res["params"].(map[string]any); ok {
			_ = remarshal(params[hop.StateKey], &s)
		}
		next := s.Continued
		if next == "" && s.Join != "" {
			p.wg.Wait()
			for _, b := range s.Branches {
				for _, run := range []string{b, b + "-again"} {
					var bs hop.Summary
					if params, ok := p.results[run]["params"].(map[string]any); ok {
						_ = remarshal(params[hop.StateKey], &bs)
					}
					if bs.Continued != "" {
						next = bs.Continued
					}
				}
			}
			if next == "" {
				t.Fatalf("no branch of %v went on: %v", s.Branches, p.results)
			}
		}
		if next == "" {
			return res
		}
		p.wg.Wait()
		p.mu.Lock()
		res = p.results[next]
		p.mu.Unlock()
	}
	t.Fatal("no end")
	return nil
}

func TestConductorFanOut(t *testing.T) {
	tests := []struct {
		name  string
		join  string
		twice bool
		drop  func(map[string]any, int) bool
		delay time.Duration
		runs  int // invocations the platform saw
		// deadline is the first invocation's time left; a wait that would
		// pass it goes on in a new invocation.
		deadline time.Duration
		// again invokes the workflow a second time with the same key once
		// the first has ended: the join is met again and gives the same.
		again bool
	}{
		{name: "wait", join: policies.JoinWait, runs: 3},
		{name: "handoff", join: policies.JoinHandoff, runs: 4},
		{name: "wait, every branch delivered twice", join: policies.JoinWait, twice: true, runs: 3},
		{name: "handoff, every branch delivered twice", join: policies.JoinHandoff, twice: true, runs: 4},
		// The second invocation is the first branch: lost once, it is
		// started again by the waiting parent.
		{name: "wait, a branch lost", join: policies.JoinWait, drop: func(_ map[string]any, n int) bool { return n == 1 }, runs: 4},
		{name: "wait, out of time", join: policies.JoinWait, delay: 300 * time.Millisecond, deadline: joinMargin + 100*time.Millisecond, runs: 4},
		// The wait is handed over before the parent looks for lost
		// branches: the new invocation starts the lost one again.
		{name: "wait, out of time, a branch lost", join: policies.JoinWait, delay: 300 * time.Millisecond, deadline: joinMargin + 50*time.Millisecond,
			drop: func(_ map[string]any, n int) bool { return n == 1 }, runs: 5},
		{name: "handoff, invoked again with the same key", join: policies.JoinHandoff, again: true, runs: 4},
		{name: "wait, invoked again with the same key", join: policies.JoinWait, again: true, runs: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := fanOutConductor(t, tt.join)
			p.twice, p.drop, p.delay = tt.twice, tt.drop, tt.delay
			left := time.Minute
			if tt.deadline > 0 {
				left = tt.deadline
			}
			res, err := c.Run(context.Background(), map[string]any{"n": 10.0, "id": "same"}, Activation{ID: "act-0", ActionName: "/_/w", Deadline: time.Now().Add(left)})
			if err != nil {
				t.Fatal(err)
			}
			got := p.final(t, roundTrip(t, res))
			p.wg.Wait()
			if tt.again {
				res, err := c.Run(context.Background(), map[string]any{"n": 10.0, "id": "same"}, Activation{ID: "act-again", ActionName: "/_/w", Deadline: time.Now().Add(time.Minute)})
				if err != nil {
					t.Fatal(err)
				}
				got = p.final(t, roundTrip(t, res))
				p.wg.Wait()
			}
			b, _ := json.Marshal(got)
			if !strings.Contains(string(b), `"sum":36`) {
				t.Fatalf("result %s, want the sum of the three branches, 36", b)
			}
			// Exactly one join: one invocation went on with the workflow.
			continued := 0
			for _, r := range p.results {
				if params, ok := r["params"].(map[string]any); ok {
					var s hop.Summary
					if remarshal(params[hop.StateKey], &s) == nil && s.Join != "" && s.Continued != "" {
						continued++
					}
				}
			}
			if want := map[string]int{policies.JoinWait: 0, policies.JoinHandoff: 1}[tt.join]; continued != want {
				t.Errorf("%d branches went on with the workflow, want %d", continued, want)
			}
			if p.n != tt.runs {
				t.Errorf("%d invocations, want %d (the branches, a restarted one, the continuation)", p.n, tt.runs)
			}
		})
	}
}

// TestConductorHandoffLostBranch loses a branch of a handed-over fan-out,
// which no parent watches: the workflow stops there. Invoked again with
// the same key, the conductor starts only the lost branch, which is then
// the last to commit and goes on; the branches that had left their values
// do not run again.
func TestConductorHandoffLostBranch(t *testing.T) {
	c, p := fanOutConductor(t, policies.JoinHandoff)
	p.drop = func(_ map[string]any, n int) bool { return n == 1 }
	in := map[string]any{"n": 10.0, "id": "same"}
	res, err := c.Run(context.Background(), in, Activation{ID: "act-0", ActionName: "/_/w", Deadline: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	p.wg.Wait()
	var s hop.Summary
	if params, ok := roundTrip(t, res)["params"].(map[string]any); !ok || remarshal(params[hop.StateKey], &s) != nil || len(s.Branches) != 3 {
		t.Fatalf("first answer %v, want a hand-over to three branches", res)
	}
	if p.n != 3 {
		t.Fatalf("%d invocations before the second call, want the 3 branches alone (one lost, nothing went on)", p.n)
	}
	res, err = c.Run(context.Background(), in, Activation{ID: "act-again", ActionName: "/_/w", Deadline: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var again hop.Summary
	if params, ok := roundTrip(t, res)["params"].(map[string]any); !ok || remarshal(params[hop.StateKey], &again) != nil || len(again.Branches) != 1 {
		t.Fatalf("second answer %v, want a hand-over to the one lost branch", res)
	}
	got := p.final(t, roundTrip(t, res))
	p.wg.Wait()
	if b, _ := json.Marshal(got); !strings.Contains(string(b), `"sum":36`) {
		t.Fatalf("result %s, want the sum of the three branches, 36", b)
	}
	// The lost branch again, then the workflow going on.
	if p.n != 5 {
		t.Errorf("%d invocations, want 5", p.n)
	}
	// Invoked a third time, the join has gone on: the answer points there.
	res, err = c.Run(context.Background(), in, Activation{ID: "act-third", ActionName: "/_/w", Deadline: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(p.final(t, roundTrip(t, res))); !strings.Contains(string(b), `"sum":36`) || p.n != 5 {
		t.Errorf("third call: %s after %d invocations, want the same result and nothing run again", b, p.n)
	}
}
