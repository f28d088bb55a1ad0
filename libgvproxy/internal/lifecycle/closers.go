package lifecycle

import (
	"io"
	"sync"
)

// Closers is a set of resources that are closed together, each with a value V its owner
// keeps about it. Once the set is closed it closes newcomers at once, so nothing joins
// behind a shutdown's back. The zero value is an open, empty set.
type Closers[V any] struct {
	mu      sync.Mutex
	closed  bool
	nextID  uint64
	members map[uint64]member[V]
}

type member[V any] struct {
	c io.Closer
	v V
}

// Add tracks c with v. The returned release forgets c again (call it after closing c
// yourself). If the set is already closed, c is closed at once and ok is false.
func (s *Closers[V]) Add(c io.Closer, v V) (release func(), ok bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.Close()
		return func() {}, false
	}
	if s.members == nil {
		s.members = map[uint64]member[V]{}
	}
	id := s.nextID
	s.nextID++
	s.members[id] = member[V]{c, v}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.members, id)
		s.mu.Unlock()
	}, true
}

// Each calls fn with the value of every member, under the set's lock (fn must not call
// back into the set).
func (s *Closers[V]) Each(fn func(V)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.members {
		fn(m.v)
	}
}

// Close closes every member and refuses new ones. It is idempotent.
func (s *Closers[V]) Close() {
	s.mu.Lock()
	s.closed = true
	members := s.members
	s.members = nil
	s.mu.Unlock()
	for _, m := range members {
		_ = m.c.Close()
	}
}
