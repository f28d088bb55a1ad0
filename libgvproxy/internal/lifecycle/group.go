// Package lifecycle tracks the goroutines and closable resources of one network
// instance so that shutting it down closes every resource and waits for every goroutine.
package lifecycle

import (
	"context"
	"io"
	"sync"
)

// Group runs goroutines and tracks resources until Close. After Close has begun, Go and
// Track refuse new work, so nothing can start behind the shutdown's back.
type Group struct {
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	closed  bool
	wg      sync.WaitGroup
	closers Closers[struct{}]
}

// NewGroup returns an open group.
func NewGroup() *Group {
	ctx, cancel := context.WithCancel(context.Background())
	return &Group{ctx: ctx, cancel: cancel}
}

// Context is cancelled when Close begins; dials and other blocking calls use it so that
// shutdown never waits for a slow peer.
func (g *Group) Context() context.Context { return g.ctx }

// Enter counts the calling goroutine (one the group did not start, such as a gVisor
// forwarder handler) as running, so Close waits for it; call done when it returns. It
// reports false once the group is closing.
func (g *Group) Enter() (done func(), ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return func() {}, false
	}
	g.wg.Add(1)
	return g.wg.Done, true
}

// Go runs fn in a goroutine that Close waits for. It reports false (and does not run fn)
// once the group is closing.
func (g *Group) Go(fn func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn()
	}()
	return true
}

// Track registers c to be closed by Close. The returned release forgets c again (call it
// after closing c yourself). If the group is already closing, c is closed at once and
// ok is false.
func (g *Group) Track(c io.Closer) (release func(), ok bool) {
	return g.closers.Add(c, struct{}{})
}

// Closing reports whether Close has begun.
func (g *Group) Closing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// Close closes every tracked resource, then waits for every goroutine started by Go.
// It is idempotent.
func (g *Group) Close() {
	g.CloseResources()
	g.wg.Wait()
}

// CloseResources closes tracked resources without waiting, for callers that must tear
// something else down (for example the network stack) before goroutines can finish.
func (g *Group) CloseResources() {
	g.mu.Lock()
	g.closed = true
	g.cancel()
	g.mu.Unlock()
	g.closers.Close()
}

// Wait waits for every goroutine started by Go.
func (g *Group) Wait() { g.wg.Wait() }
