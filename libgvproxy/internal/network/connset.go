package network

import (
	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/lifecycle"
)

// connSet holds the live connections of one forward or host socket with their flows, so
// removing it closes them (Close). Once closed, it refuses new members (they are closed
// at once).
type connSet struct {
	lifecycle.Closers[*audit.Flow]
}

// endAll marks every live connection as ended by its forward's removal.
func (s *connSet) endAll() {
	s.Each(func(flow *audit.Flow) { flow.EndedBy(audit.Unexposed) })
}
