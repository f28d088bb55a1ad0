package lifecycle

import (
	"sync/atomic"
	"testing"
)

type closer struct{ closed atomic.Int32 }

func (c *closer) Close() error { c.closed.Add(1); return nil }

func TestCloseClosesTrackedResourcesAndWaitsForGoroutines(t *testing.T) {
	g := NewGroup()
	c := &closer{}
	g.Track(c)
	released := &closer{}
	release, _ := g.Track(released)
	release()

	var finished atomic.Bool
	unblock := make(chan struct{})
	g.Go(func() {
		<-unblock
		finished.Store(true)
	})
	// The goroutine ends only when its resource is closed, as a reader would.
	g.Track(closerFunc(func() error { close(unblock); return nil }))
	g.Close()
	if !finished.Load() {
		t.Fatal("Close returned before the goroutine finished")
	}
	if c.closed.Load() != 1 || released.closed.Load() != 0 {
		t.Fatalf("closed: tracked %d, released %d", c.closed.Load(), released.closed.Load())
	}
	if g.Context().Err() == nil {
		t.Fatal("context not cancelled by Close")
	}
	g.Close() // idempotent
	if c.closed.Load() != 1 {
		t.Fatal("second Close closed again")
	}
}

func TestAClosingGroupRefusesNewWork(t *testing.T) {
	g := NewGroup()
	g.Close()
	if g.Go(func() { t.Error("ran after Close") }) {
		t.Fatal("Go accepted work after Close")
	}
	late := &closer{}
	if _, ok := g.Track(late); ok || late.closed.Load() != 1 {
		t.Fatal("Track after Close must close the resource at once and report false")
	}
	if _, ok := g.Enter(); ok {
		t.Fatal("Enter succeeded after Close")
	}
	if !g.Closing() {
		t.Fatal("Closing() false after Close")
	}
}

func TestEnterMakesCloseWaitForForeignGoroutines(t *testing.T) {
	g := NewGroup()
	done, ok := g.Enter()
	if !ok {
		t.Fatal("Enter refused on an open group")
	}
	var left atomic.Bool
	go func() {
		<-g.Context().Done()
		left.Store(true)
		done()
	}()
	g.Close()
	if !left.Load() {
		t.Fatal("Close did not wait for the entered goroutine")
	}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
