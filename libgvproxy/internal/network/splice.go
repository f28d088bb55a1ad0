package network

import (
	"errors"
	"io"
	"net"
	"sync"
)

// A copy starts with a small buffer, so the many connections that carry little (and
// sit blocked in a read, holding their buffer) cost little memory. A read that fills
// the buffer means more was waiting: the copy moves to a large one for the rest of the
// connection. Bulk copies gain from large reads both ways: host -> guest one read and
// one gVisor write carry up to 256 KiB; guest -> host one gVisor read drains several
// coalesced segments into one host write (BENCHMARKS.md, "Where the time goes").
const (
	smallCopyBufferSize = 16 << 10
	largeCopyBufferSize = 256 << 10
)

var (
	smallCopyBuffers = sync.Pool{New: func() any { b := make([]byte, smallCopyBufferSize); return &b }}
	largeCopyBuffers = sync.Pool{New: func() any { b := make([]byte, largeCopyBufferSize); return &b }}
)

// copyBuffer is one copy's pooled buffer: small until a read fills it, then large.
type copyBuffer struct {
	buf   *[]byte
	large bool
}

func newCopyBuffer() copyBuffer {
	return copyBuffer{buf: smallCopyBuffers.Get().(*[]byte)}
}

func (b *copyBuffer) bytes() []byte { return *b.buf }

// read notes that a read returned n bytes (already written on): a full small buffer
// is swapped for a large one.
func (b *copyBuffer) read(n int) {
	if b.large || n < len(*b.buf) {
		return
	}
	smallCopyBuffers.Put(b.buf)
	b.buf, b.large = largeCopyBuffers.Get().(*[]byte), true
}

func (b *copyBuffer) release() {
	if b.large {
		largeCopyBuffers.Put(b.buf)
	} else {
		smallCopyBuffers.Put(b.buf)
	}
	b.buf = nil
}

type halfCloser interface{ CloseWrite() error }

// splice copies a->b and b->a until both directions end, then closes both, and returns
// the bytes copied each way. A clean EOF half-closes the other side (so request/response
// protocols that shut down writing keep working); an error tears down both directions
// at once. It uses pooled buffers and no per-read allocation. The b->a copy runs on a
// goroutine from run (a reused worker), or a new one if run refuses.
func splice(a, b net.Conn, run func(func()) bool) (aToB, bToA uint64) {
	var wg sync.WaitGroup
	wg.Add(1)
	toA := func() {
		defer wg.Done()
		bToA = pipe(a, b)
	}
	if !run(toA) {
		go toA()
	}
	aToB = pipe(b, a)
	wg.Wait()
	_ = a.Close()
	_ = b.Close()
	return aToB, bToA
}

// pipe copies src to dst and then signals the end to dst: a clean EOF half-closes dst
// (pipeFrom does that), anything else closes both connections. It returns the bytes
// copied.
func pipe(dst, src net.Conn) uint64 {
	n, err := pipeFrom(dst, src)
	if err != nil {
		_ = src.Close()
		_ = dst.Close()
	}
	return n
}

// pipeFrom copies src to dst with a pooled buffer; src may be any Reader (the
// inspected path reads the guest through the policy's checks). A clean EOF
// half-closes dst and returns nil; otherwise it returns the error that ended the copy
// and leaves closing to the caller: pipe closes both sides, spliceInspected treats a
// policy denial differently from an I/O error. n is the bytes written to dst.
func pipeFrom(dst net.Conn, src io.Reader) (n uint64, err error) {
	buf := newCopyBuffer()
	defer buf.release()
	for {
		nr, rerr := src.Read(buf.bytes())
		if nr > 0 {
			nw, werr := dst.Write(buf.bytes()[:nr])
			n += uint64(nw)
			if werr != nil {
				return n, werr
			}
		}
		buf.read(nr)
		switch {
		case rerr == nil:
			continue
		case errors.Is(rerr, io.EOF):
			if hc, ok := dst.(halfCloser); ok {
				_ = hc.CloseWrite()
				return n, nil
			}
		}
		return n, rerr
	}
}
