package network

import (
	"sync"

	"bun-gvproxy/libgvproxy/internal/lifecycle"
)

// maxIdleWorkers bounds the goroutines kept waiting for work; beyond it a worker whose
// function returned exits, so a burst of connections does not leave its goroutines
// behind.
const maxIdleWorkers = 32

// workers runs each connection's handling on a reused goroutine. A new goroutine starts
// with a small stack that a connection's handling (dialing, gVisor's handshake, the
// splice's reads and writes) grows two or three times, and each growth copies the stack
// and walks its frames: for connect+request+close that was about 7 % of the process's
// CPU. A reused goroutine keeps the stack it grew (until the GC shrinks it). Workers
// run in the network's group, so closing the network waits for them.
type workers struct {
	group *lifecycle.Group
	work  chan func()
	mu    sync.Mutex
	idle  int
}

func newWorkers(group *lifecycle.Group) *workers {
	return &workers{group: group, work: make(chan func())}
}

// run runs fn on an idle worker, or on a new one if none is idle. It reports false (and
// fn does not run) once the network is closing.
func (w *workers) run(fn func()) bool {
	select {
	case w.work <- fn:
		return true
	default:
		return w.group.Go(func() { w.loop(fn) })
	}
}

// loop runs fn, then whatever run hands it, until the network closes or enough other
// workers are idle already.
func (w *workers) loop(fn func()) {
	done := w.group.Context().Done()
	for {
		fn()
		if !w.enterIdle() {
			return
		}
		select {
		case fn = <-w.work:
			w.leaveIdle()
		case <-done:
			w.leaveIdle()
			return
		}
	}
}

func (w *workers) enterIdle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.idle >= maxIdleWorkers {
		return false
	}
	w.idle++
	return true
}

func (w *workers) leaveIdle() {
	w.mu.Lock()
	w.idle--
	w.mu.Unlock()
}
