package secrets

import (
	"bytes"
	"io"
	"sort"
	"strings"
)

// Redactor replaces every secret's value by its placeholder. It is safe for concurrent
// use; a nil *Redactor changes nothing.
type Redactor struct {
	values       [][]byte // longest first, so at one position the longer value wins
	placeholders [][]byte
	replacer     *strings.Replacer
}

func newRedactor(entries []entry) *Redactor {
	if len(entries) == 0 {
		return nil
	}
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(entries[order[a]].Value) > len(entries[order[b]].Value) })
	r := &Redactor{}
	pairs := make([]string, 0, 2*len(entries))
	for _, i := range order {
		r.values = append(r.values, []byte(entries[i].Value))
		r.placeholders = append(r.placeholders, []byte(entries[i].Placeholder))
		pairs = append(pairs, entries[i].Value, entries[i].Placeholder)
	}
	// strings.Replacer tries the old strings in argument order at each position: longest first.
	r.replacer = strings.NewReplacer(pairs...)
	return r
}

// String returns s with every value replaced by its placeholder.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	return r.replacer.Replace(s)
}

// Bytes returns b with every value replaced (b itself when there is none).
func (r *Redactor) Bytes(b []byte) []byte {
	out, _ := r.scan(nil, b, true)
	return out
}

// Reader returns a reader of src with every value replaced by its placeholder, also
// where a value is split across src's reads. It holds back only a tail that could be
// the start of a value, so a stream that never carries one flows through unchanged.
func (r *Redactor) Reader(src io.Reader) io.Reader {
	if r == nil {
		return src
	}
	// Room for a read of readSize after the longest tail held back (shorter than a value).
	return &redactingReader{r: r, src: src, buf: make([]byte, readSize+len(r.values[0]))}
}

const readSize = 32 << 10

// redactingReader serves, in the common case of a read carrying no value, the bytes
// straight from the buffer they were read into: a body's every byte is copied in and
// out once, never into a fresh allocation.
type redactingReader struct {
	r   *Redactor
	src io.Reader
	buf []byte // what src's reads land in, after the held tail
	// held is the tail of the last read not yet ruled on (it could be a value's start);
	// it aliases buf, and moves to buf's front once out is drained.
	held []byte
	out  []byte // ruled on, ready for the caller: aliases buf, or replaced
	// replaced is the reused backing array of out when values were replaced.
	replaced []byte
	err      error
}

func (rr *redactingReader) Read(p []byte) (int, error) {
	for len(rr.out) == 0 && rr.err == nil {
		// out is drained, so nothing in buf is still to be served.
		kept := copy(rr.buf, rr.held)
		n, err := rr.src.Read(rr.buf[kept:])
		if err != nil {
			rr.err = err
		}
		data := rr.buf[:kept+n]
		rr.out, rr.held = rr.r.scan(rr.replaced[:0], data, err != nil)
		if len(rr.out) > 0 && &rr.out[0] != &rr.buf[0] {
			rr.replaced = rr.out[:0]
		}
	}
	if len(rr.out) > 0 {
		n := copy(p, rr.out)
		rr.out = rr.out[n:]
		return n, nil
	}
	return 0, rr.err
}

// scan appends data to out with values replaced. Unless final, it stops before a tail
// of data that could still become a value (or a longer value than one matched there)
// and returns that tail as rest. When out is empty and data holds no value, the result
// is data's own prefix (no copy).
func (r *Redactor) scan(out, data []byte, final bool) (result, rest []byte) {
	if r == nil {
		return append(out, data...), nil
	}
	for {
		pos, k := r.nextMatch(data)
		if pos < 0 {
			break
		}
		if !final && r.longerMayFollow(data[pos:], k) {
			return append(out, data[:pos]...), data[pos:]
		}
		out = append(out, data[:pos]...)
		out = append(out, r.placeholders[k]...)
		data = data[pos+len(r.values[k]):]
	}
	keep := 0
	if !final {
		keep = partialSuffix(data, r.values)
	}
	if len(out) == 0 {
		// Nothing was replaced (a placeholder is never empty): data's own prefix.
		return data[:len(data)-keep], data[len(data)-keep:]
	}
	return append(out, data[:len(data)-keep]...), data[len(data)-keep:]
}

// nextMatch finds the earliest complete value in data (the longest at that position).
func (r *Redactor) nextMatch(data []byte) (pos, k int) {
	pos, k = -1, -1
	for i, v := range r.values {
		limit := data
		if pos >= 0 {
			limit = data[:min(len(data), pos+len(v))]
		}
		if j := bytes.Index(limit, v); j >= 0 && (pos < 0 || j < pos) {
			pos, k = j, i
		}
	}
	return pos, k
}

// longerMayFollow reports whether at the start of tail a value longer than values[k]
// is still possible once more bytes arrive.
func (r *Redactor) longerMayFollow(tail []byte, k int) bool {
	for i := 0; i < k; i++ {
		v := r.values[i]
		if len(v) > len(tail) && bytes.HasPrefix(v, tail) {
			return true
		}
	}
	return false
}
