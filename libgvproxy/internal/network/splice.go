package network

import (
	"errors"
	"io"
	"net"
	"sync"
)

// copyBufferSize is large enough for a 64 KiB TSO segment read from gVisor in one call.
const copyBufferSize = 128 << 10

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

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
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += uint64(nw)
			if werr != nil {
				return n, werr
			}
		}
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
