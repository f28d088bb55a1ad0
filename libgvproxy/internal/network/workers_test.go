package network

import (
	"runtime"
	"sync"
	"testing"

	"bun-gvproxy/libgvproxy/internal/lifecycle"
)

// idleWorkers is the number of workers waiting for work.
func (w *workers) idleWorkers() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.idle
}

// waitFor yields until cond holds (the workers change state on their own goroutines).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 10_000_000 {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func TestAWorkerThatFinishedRunsTheNextFunction(t *testing.T) {
	g := lifecycle.NewGroup()
	defer g.Close()
	w := newWorkers(g)
	first := make(chan struct{})
	if !w.run(func() { close(first) }) {
		t.Fatal("run refused work on an open network")
	}
	<-first
	waitFor(t, "the worker to go idle", func() bool { return w.idleWorkers() == 1 })

	release := make(chan struct{})
	running := make(chan struct{})
	w.run(func() { close(running); <-release })
	<-running
	// Taken by the idle worker: none is idle while it runs. A new goroutine would
	// have left the idle one waiting.
	if n := w.idleWorkers(); n != 0 {
		t.Fatalf("%d workers idle while the only one runs the second function", n)
	}
	close(release)
	waitFor(t, "the worker to go idle again", func() bool { return w.idleWorkers() == 1 })
}

func TestWorkersBeyondTheIdleBoundExit(t *testing.T) {
	g := lifecycle.NewGroup()
	w := newWorkers(g)
	const n = maxIdleWorkers + 8
	var started, finished sync.WaitGroup
	started.Add(n)
	finished.Add(n)
	release := make(chan struct{})
	for range n {
		w.run(func() { started.Done(); <-release; finished.Done() })
	}
	started.Wait() // all n ran at once, each on its own goroutine
	close(release)
	finished.Wait()
	waitFor(t, "the idle bound", func() bool { return w.idleWorkers() == maxIdleWorkers })
	before := runtime.NumGoroutine()
	g.Close() // returns only when every worker, idle ones included, has exited
	if w.idleWorkers() != 0 {
		t.Fatalf("%d workers still idle after the network closed", w.idleWorkers())
	}
	if after := runtime.NumGoroutine(); after > before-maxIdleWorkers {
		t.Fatalf("goroutines: %d before close, %d after; the %d idle workers did not exit", before, after, maxIdleWorkers)
	}
}

func TestAClosedNetworksWorkersRefuseWork(t *testing.T) {
	g := lifecycle.NewGroup()
	w := newWorkers(g)
	g.Close()
	if w.run(func() { t.Error("ran after the network closed") }) {
		t.Fatal("run accepted work after the network closed")
	}
}
