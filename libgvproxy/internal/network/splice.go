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

// splice copies a->b and b->a until both directions end, then closes both. A clean EOF
// half-closes the other side (so request/response protocols that shut down writing keep
// working); an error tears down both directions at once. It uses pooled buffers and no
// per-read allocation.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pipe(b, a)
	}()
	pipe(a, b)
	wg.Wait()
	_ = a.Close()
	_ = b.Close()
}

// pipe copies src to dst and then signals the end to dst.
func pipe(dst, src net.Conn) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				_ = src.Close()
				_ = dst.Close()
				return
			}
		}
		if rerr == nil {
			continue
		}
		if errors.Is(rerr, io.EOF) {
			if hc, ok := dst.(halfCloser); ok {
				_ = hc.CloseWrite()
				return
			}
		}
		_ = src.Close()
		_ = dst.Close()
		return
	}
}
