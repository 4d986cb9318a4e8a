package checkpoint_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/wskx/wskx/checkpoint"
)

// TestJoin: each branch's result is stored once whoever commits it
// again, the results read back by index, and one claimant continues.
func TestJoin(t *testing.T) {
	ctx := context.Background()
	st := checkpoint.NewStore(fileBucket(t), "p/", checkpoint.Options{})
	if got, err := st.Branches(ctx, "w0"); err != nil || len(got) != 0 {
		t.Fatalf("a join no one wrote to: %v, %v; want no branches", got, err)
	}
	if err := st.PutJoinParent(ctx, "w1", []byte("state-1")); err != nil {
		t.Fatal(err)
	}
	if err := st.PutJoinParent(ctx, "w1", []byte("state-2")); err != nil {
		t.Fatal(err)
	}
	if b, err := st.JoinParent(ctx, "w1"); err != nil || string(b) != "state-1" {
		t.Fatalf("parent %q, %v: want the first one kept", b, err)
	}
	var wg sync.WaitGroup
	wins := make([]int, 3)
	var mu sync.Mutex
	for i := range 3 {
		for try := range 5 {
			wg.Go(func() {
				won, err := st.CommitBranch(ctx, "w1", i, fmt.Appendf(nil, `{"branch":%d,"try":%d}`, i, try))
				if err != nil {
					t.Error(err)
				}
				if won {
					mu.Lock()
					wins[i]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for i, n := range wins {
		if n != 1 {
			t.Errorf("branch %d committed %d times, want once", i, n)
		}
	}
	got, err := st.Branches(ctx, "w1")
	if err != nil || len(got) != 3 {
		t.Fatalf("branches %v, %v", got, err)
	}
	if _, ok := got[2]; !ok {
		t.Errorf("branch 2 missing: %v", got)
	}
	claims := 0
	for _, by := range []string{"a", "b", "c"} {
		won, err := st.ClaimJoin(ctx, "w1", by)
		if err != nil {
			t.Fatal(err)
		}
		if won {
			claims++
		}
	}
	if claims != 1 {
		t.Errorf("%d claims won, want 1", claims)
	}
	if _, ok, err := st.JoinNext(ctx, "w1"); ok || err != nil {
		t.Errorf("next before it is set: %v %v", ok, err)
	}
	if err := st.SetJoinNext(ctx, "w1", "act-9"); err != nil {
		t.Fatal(err)
	}
	if next, ok, err := st.JoinNext(ctx, "w1"); !ok || err != nil || next != "act-9" {
		t.Errorf("next %q %v %v", next, ok, err)
	}
	if _, err := st.CommitBranch(ctx, "../x", 0, nil); err == nil {
		t.Error("a join name with a slash was accepted")
	}
}
