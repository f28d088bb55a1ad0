package secrets

import (
	"bytes"
	"fmt"
	"io"
)

// MisuseError ends a plain stream that carried a placeholder (GuardPlain).
type MisuseError struct{ Placeholder string }

func (e *MisuseError) Error() string {
	return fmt.Sprintf("placeholder %s sent in plain text (a secret is only ever put into HTTPS requests to its hosts)", e.Placeholder)
}

// GuardPlain returns a reader of src (a guest's plain-text stream) that ends with a
// *MisuseError, before releasing any byte of it, where a placeholder of the set appears,
// also split across reads. For an empty set it returns src.
func (s *Set) GuardPlain(src io.Reader) io.Reader {
	if s.Len() == 0 {
		return src
	}
	g := &plainGuard{src: src, buf: make([]byte, 32<<10)}
	for i := range s.entries {
		g.placeholders = append(g.placeholders, []byte(s.entries[i].Placeholder))
	}
	return g
}

type plainGuard struct {
	placeholders [][]byte
	src          io.Reader
	buf          []byte
	pending      []byte
	out          []byte
	err          error
}

func (g *plainGuard) Read(p []byte) (int, error) {
	for len(g.out) == 0 && g.err == nil {
		n, err := g.src.Read(g.buf)
		g.pending = append(g.pending, g.buf[:n]...)
		for _, ph := range g.placeholders {
			if bytes.Contains(g.pending, ph) {
				g.pending, g.out, g.err = nil, nil, &MisuseError{Placeholder: string(ph)}
				return 0, g.err
			}
		}
		keep := 0
		if err == nil {
			keep = partialSuffix(g.pending, g.placeholders)
		} else {
			g.err = err
		}
		release := len(g.pending) - keep
		g.out = append(g.out[:0], g.pending[:release]...)
		g.pending = append(g.pending[:0], g.pending[release:]...)
	}
	if len(g.out) > 0 {
		n := copy(p, g.out)
		g.out = g.out[n:]
		return n, nil
	}
	return 0, g.err
}

// partialSuffix is the length of the longest suffix of data that is a proper prefix of
// one of patterns: the bytes a stream must hold back until it knows more.
func partialSuffix(data []byte, patterns [][]byte) int {
	best := 0
	for _, v := range patterns {
		for l := min(len(v)-1, len(data)); l > best; l-- {
			if bytes.HasSuffix(data, v[:l]) {
				best = l
				break
			}
		}
	}
	return best
}
