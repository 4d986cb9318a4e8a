package checkpoint_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/wskx/wskx/checkpoint"
)

// TestFencing: once a newer holding exists, the older holder can commit
// neither a generation nor a result; the newer one can.
func TestFencing(t *testing.T) {
	ctx := context.Background()
	st := checkpoint.NewStore(fileBucket(t), "", checkpoint.Options{})
	src, names := writeFiles(t)
	for _, tok := range []int{1, 2} {
		if won, err := st.TakeLease(ctx, "j", checkpoint.Lease{Token: tok, Activation: "a"}); err != nil || !won {
			t.Fatalf("token %d: %v %v", tok, won, err)
		}
	}
	if won, err := st.TakeLease(ctx, "j", checkpoint.Lease{Token: 2, Activation: "b"}); err != nil || won {
		t.Fatalf("a taken token was taken again: %v %v", won, err)
	}
	if _, err := st.Save(ctx, "j", 1, src, names, checkpoint.Meta{Lease: 1}); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("save by a superseded holder: %v, want ErrFenced", err)
	}
	if gens, _ := st.Generations(ctx, "j"); len(gens) != 0 {
		t.Fatalf("a fenced save is visible: %v", gens)
	}
	if _, _, err := st.CommitResult(ctx, "j", []byte(`{"old":1}`), 1); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("commit by a superseded holder: %v, want ErrFenced", err)
	}
	if _, err := st.Save(ctx, "j", 1, src, names, checkpoint.Meta{Lease: 2}); err != nil {
		t.Fatal(err)
	}
	if _, won, err := st.CommitResult(ctx, "j", []byte(`{"new":1}`), 2); err != nil || !won {
		t.Fatalf("commit by the holder: %v %v", won, err)
	}
	// A superseded holder that commits after the newer one learns its result.
	if _, err := st.TakeLease(ctx, "j", checkpoint.Lease{Token: 3}); err != nil {
		t.Fatal(err)
	}
	if got, won, err := st.CommitResult(ctx, "j", []byte(`{"old":1}`), 2); err != nil || won || string(got) != `{"new":1}` {
		t.Fatalf("late commit: %s %v %v", got, won, err)
	}
	l, ok, err := st.Lease(ctx, "j")
	if err != nil || !ok || l.Token != 3 {
		t.Fatalf("newest holding %+v %v %v", l, ok, err)
	}
}

// TestLeasesPruned: old holdings go as new ones come.
func TestLeasesPruned(t *testing.T) {
	ctx := context.Background()
	b := fileBucket(t)
	st := checkpoint.NewStore(b, "", checkpoint.Options{})
	for tok := 1; tok <= 10; tok++ {
		if _, err := st.TakeLease(ctx, "j", checkpoint.Lease{Token: tok}); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := b.List(ctx, "jobs/j/leases/")
	if err != nil || len(objs) > 4 {
		t.Fatalf("%d holdings kept (%v), want a few", len(objs), err)
	}
}

// TestRecord: the first record wins and later ones read it back.
func TestRecord(t *testing.T) {
	ctx := context.Background()
	st := checkpoint.NewStore(fileBucket(t), "", checkpoint.Options{})
	first := checkpoint.Record{Key: "k", ParamsSHA256: "aa", Params: []byte(`{"n":1}`), Started: 5}
	if got, err := st.EnsureRecord(ctx, "j", first); err != nil || got.ParamsSHA256 != "aa" {
		t.Fatal(got, err)
	}
	got, err := st.EnsureRecord(ctx, "j", checkpoint.Record{Key: "k", ParamsSHA256: "bb", Started: 9})
	if err != nil || got.ParamsSHA256 != "aa" || got.Started != 5 || string(got.Params) != `{"n":1}` {
		t.Fatalf("second record: %+v %v, want the first", got, err)
	}
}

// TestListingDamaged: a generation whose manifest does not parse is left
// out of the whole ones but keeps its number.
func TestListingDamaged(t *testing.T) {
	ctx := context.Background()
	b := fileBucket(t)
	st := checkpoint.NewStore(b, "", checkpoint.Options{})
	src, names := writeFiles(t)
	for gen := 1; gen <= 3; gen++ {
		if _, err := st.Save(ctx, "j", gen, src, names, checkpoint.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	overwrite(t, b, "jobs/j/gen-000003/manifest.json", []byte(`{"job": "j", "generation": 3, "files": [`))
	l, err := st.Listing(ctx, "j")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Whole) != 2 || len(l.Damaged) != 1 || l.Damaged[0] != 3 || l.Highest() != 3 {
		t.Fatalf("listing %+v, want gens 1-2 whole, 3 damaged, highest 3", l)
	}
	// The next save goes above the damaged one, and a prune keeping two
	// removes it.
	if _, err := st.Save(ctx, "j", l.Highest()+1, src, names, checkpoint.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := st.Prune(ctx, "j", 2); err != nil {
		t.Fatal(err)
	}
	if l, _ = st.Listing(ctx, "j"); len(l.Damaged) != 0 || len(l.Whole) != 2 || l.Whole[1].Generation != 4 {
		t.Fatalf("after save and prune: %+v", l)
	}
}

func overwrite(t *testing.T, b checkpoint.Bucket, key string, body []byte) {
	t.Helper()
	ctx := context.Background()
	if err := b.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	w, err := b.NewWriter(ctx, key, checkpoint.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, string(body)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
