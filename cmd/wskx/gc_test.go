package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/checkpoint"
	"github.com/wskx/wskx/storage"
)

func TestGC(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	policy := filepath.Join(dir, "p.yaml")
	src := "job:\n  command: [/bin/true]\nstorage:\n  url: file://" + store + "\n  keep: 1\n"
	if err := os.WriteFile(policy, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := storage.Open(ctx, "file://"+store)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st := checkpoint.NewStore(b, "", checkpoint.Options{})
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "state"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{"jdone", "jrunning"} {
		for gen := 1; gen <= 3; gen++ {
			if _, err := st.Save(ctx, job, gen, root, []string{"state"}, checkpoint.Meta{Created: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, _, err := st.CommitResult(ctx, "jdone", []byte(`{"ok":true}`), 0); err != nil {
		t.Fatal(err)
	}

	out, errs, code := runCLI(t, "gc", policy, "--dry-run", "--older-than", "0s")
	if code != 0 || !strings.Contains(out, "would remove checkpoints") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	if gens, _ := st.Generations(ctx, "jdone"); len(gens) != 3 {
		t.Fatalf("a dry run removed generations: %d left", len(gens))
	}

	if out, errs, code = runCLI(t, "gc", policy, "--older-than", "0s"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if gens, _ := st.Generations(ctx, "jdone"); len(gens) != 0 {
		t.Errorf("the finished job kept %d generations", len(gens))
	}
	if res, ok, _ := st.Result(ctx, "jdone"); !ok || string(res) != `{"ok":true}` {
		t.Errorf("the finished job lost its result: %q %v", res, ok)
	}
	if gens, _ := st.Generations(ctx, "jrunning"); len(gens) != 1 || gens[0].Generation != 3 {
		t.Errorf("the running job kept %v, want only generation 3", gens)
	}
}
