package network

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

func TestACopyBufferGrowsOnlyWhenAReadFillsIt(t *testing.T) {
	b := newCopyBuffer()
	defer b.release()
	if got := len(b.bytes()); got != smallCopyBufferSize {
		t.Fatalf("a new copy reads into %d bytes, want the small %d", got, smallCopyBufferSize)
	}
	b.read(smallCopyBufferSize - 1)
	if got := len(b.bytes()); got != smallCopyBufferSize {
		t.Fatalf("after a read short of the buffer: %d bytes, want %d still", got, smallCopyBufferSize)
	}
	b.read(smallCopyBufferSize)
	if got := len(b.bytes()); got != largeCopyBufferSize {
		t.Fatalf("after a read that filled the buffer: %d bytes, want the large %d", got, largeCopyBufferSize)
	}
	b.read(0)
	if got := len(b.bytes()); got != largeCopyBufferSize {
		t.Fatalf("a large buffer went back to %d bytes", got)
	}
}

// chunkedReader returns its data in reads of the sizes given, then the rest in one.
type chunkedReader struct {
	data  []byte
	sizes []int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.sizes) > 0 {
		n, r.sizes = min(r.sizes[0], n), r.sizes[1:]
	}
	n = copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func TestAPipeThatMovesToTheLargeBufferLosesNothing(t *testing.T) {
	want := make([]byte, 3*largeCopyBufferSize+12345)
	for i := range want {
		want[i] = byte(i * 7)
	}
	// A short read, a read that fills the small buffer (the move), then full large ones.
	src := &chunkedReader{data: want, sizes: []int{100, smallCopyBufferSize}}
	a, b := net.Pipe()
	got := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	n, err := pipeFrom(a, src)
	// net.Pipe cannot half-close, so the source's EOF comes back for the caller to close.
	if !errors.Is(err, io.EOF) {
		t.Fatalf("pipeFrom: %v, want the source's EOF", err)
	}
	_ = a.Close()
	if all := <-got; n != uint64(len(want)) || !bytes.Equal(all, want) {
		t.Fatalf("copied %d bytes, received %d, equal %v; want %d bytes unchanged", n, len(all), bytes.Equal(all, want), len(want))
	}
}
