package network

import (
	"io"
	"sync"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// connSet holds the live connections of one forward or host socket, so removing it
// closes them. Once closed, it refuses new members (they are closed at once).
type connSet struct {
	mu     sync.Mutex
	conns  map[io.Closer]*audit.Flow
	closed bool
}

// add tracks c; ok is false (and c closed) once the set is closed.
func (s *connSet) add(c io.Closer, flow *audit.Flow) (remove func(), ok bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.Close()
		return func() {}, false
	}
	if s.conns == nil {
		s.conns = map[io.Closer]*audit.Flow{}
	}
	s.conns[c] = flow
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}, true
}

// endAll marks every live connection as ended by its forward's removal.
func (s *connSet) endAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, flow := range s.conns {
		flow.EndedBy(audit.Unexposed)
	}
}

// closeAll closes every live connection and refuses new ones.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}
