package container

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/wskx/wskx/internal/proctest"
	"github.com/wskx/wskx/whisk"
)

// TestContainerOutlivesStartingThread starts a container from a goroutine
// that ends while locked to its thread, which ends the thread. Pdeathsig
// fires when the forking thread ends, so a container forked on that
// thread would die with it; the spawner's own thread keeps it alive.
func TestContainerOutlivesStartingThread(t *testing.T) {
	p := newPool(t, nil)
	s := spec(whisk.Exec{Kind: "native", Code: "#!/bin/sh\necho '{\"ok\":true}'\n"}, 20000, 256)
	type result struct {
		out RunOutput
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		out, err := p.Run(context.Background(), s, input(t, map[string]any{}, 20*time.Second))
		done <- result{out, err}
	}()
	r := <-done
	if r.err != nil || r.out.StatusCode != StatusSuccess {
		t.Fatalf("first run: %+v, %v", r.out, r.err)
	}
	var pid int
	p.mu.Lock()
	for c := range p.all {
		pid = c.pid
	}
	p.mu.Unlock()
	if pid == 0 {
		t.Fatal("no warm container after the first run")
	}
	// Long enough for the runtime to end the thread and the kernel to
	// deliver the signal.
	time.Sleep(300 * time.Millisecond)
	if proctest.Gone(pid) {
		t.Fatalf("the container (pid %d) died with the thread that asked for it", pid)
	}
	out := run(t, p, s, map[string]any{})
	if out.StatusCode != StatusSuccess || out.InitTime != 0 {
		t.Errorf("second run: status %d, init time %v; want a warm success", out.StatusCode, out.InitTime)
	}
}
