package framing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

var anySize = Limits{Max: MaxFrameSize}

func encode(frames ...[]byte) []byte {
	var out []byte
	for _, f := range frames {
		out = AppendFrame(out, f)
	}
	return out
}

func TestStreamRoundTripKeepsFrameBoundaries(t *testing.T) {
	frames := [][]byte{{1, 2, 3}, {}, bytes.Repeat([]byte{0xab}, 1514)}
	var stream bytes.Buffer
	w := NewStreamWriter(&stream, 4096, MaxFrameSize)
	for _, f := range frames {
		if err := w.WriteFrame(f); err != nil {
			t.Fatalf("encode: %v", err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stream.Bytes(), encode(frames...)) {
		t.Fatal("StreamWriter and AppendFrame encode differently")
	}
	r := NewStreamReader(&stream, 4096, anySize)
	buf := make([]byte, MaxFrameSize)
	for i, want := range frames {
		n, err := r.ReadFrame(buf)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, n, len(want))
		}
	}
	if _, err := r.ReadFrame(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("after last frame: got %v, want io.EOF", err)
	}
}

func TestPrefixIsBigEndianLength(t *testing.T) {
	enc := AppendFrame(nil, make([]byte, 0x0102))
	if got := enc[:PrefixSize]; !bytes.Equal(got, []byte{0, 0, 1, 2}) {
		t.Fatalf("prefix %x, want 00000102", got)
	}
	var p [PrefixSize]byte
	PutPrefix(p[:], 0x01020304)
	if !bytes.Equal(p[:], []byte{1, 2, 3, 4}) {
		t.Fatalf("PutPrefix wrote %x", p)
	}
}

func TestStreamWriterRejectsOversizedFrame(t *testing.T) {
	var out bytes.Buffer
	w := NewStreamWriter(&out, 64, MaxFrameSize)
	var serr *SizeError
	if err := w.WriteFrame(make([]byte, MaxFrameSize+1)); !errors.As(err, &serr) || serr.Size != MaxFrameSize+1 {
		t.Fatalf("got %v, want a SizeError for %d bytes", err, MaxFrameSize+1)
	}
	_ = w.Flush()
	if out.Len() != 0 {
		t.Fatalf("an oversized frame wrote %d bytes", out.Len())
	}
}

// A prefix outside the limits is refused before anything is read for the body, on
// both sides of the range.
func TestNextSizeChecksTheLimitsBeforeReadingTheBody(t *testing.T) {
	limits := Limits{Min: EthernetHeaderSize, Max: 1514}
	for _, size := range []uint32{0, EthernetHeaderSize - 1, 1515, 0xFFFFFFFF} {
		var prefix [PrefixSize]byte
		binary.BigEndian.PutUint32(prefix[:], size)
		r := NewStreamReader(bytes.NewReader(prefix[:]), 64, limits)
		_, err := r.NextSize()
		var serr *SizeError
		if !errors.As(err, &serr) || serr.Size != int(size) || serr.Limits != limits {
			t.Fatalf("prefix %d: got %v, want a SizeError", size, err)
		}
	}
	for _, size := range []int{EthernetHeaderSize, 1514} {
		r := NewStreamReader(bytes.NewReader(encode(make([]byte, size))), 64, limits)
		if got, err := r.NextSize(); err != nil || got != size {
			t.Fatalf("prefix %d: got %d, %v", size, got, err)
		}
	}
}

func TestSizeErrorSaysWhichBoundWasCrossed(t *testing.T) {
	l := Limits{Min: 14, Max: 1514}
	if got := (&SizeError{Size: 3, Limits: l}).Error(); got != "3-byte frame, shorter than the 14-byte minimum" {
		t.Fatalf("short: %q", got)
	}
	if got := (&SizeError{Size: 2000, Limits: l}).Error(); got != "2000-byte frame, larger than the 1514-byte maximum" {
		t.Fatalf("long: %q", got)
	}
}

func TestReadFrameRejectsAFrameLargerThanTheBuffer(t *testing.T) {
	r := NewStreamReader(bytes.NewReader(encode(make([]byte, 100))), 64, anySize)
	var serr *SizeError
	if _, err := r.ReadFrame(make([]byte, 99)); !errors.As(err, &serr) || serr.Max != 99 {
		t.Fatalf("got %v, want a SizeError naming the 99-byte buffer", err)
	}
}

// A stream cut inside a prefix or inside a body is ErrTruncated (which is also
// io.ErrUnexpectedEOF), never io.EOF.
func TestTruncationIsReportedWhereverTheStreamEnds(t *testing.T) {
	enc := encode([]byte{1, 2, 3, 4})
	for _, cut := range []int{1, 3, 4, 6} {
		r := NewStreamReader(bytes.NewReader(enc[:cut]), 64, anySize)
		_, err := r.ReadFrame(make([]byte, MaxFrameSize))
		if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			t.Fatalf("cut at %d: got %v, want ErrTruncated", cut, err)
		}
	}
}

// Large frames are read straight from the connection, small ones through the buffer,
// mixed in any order; a large frame cut short is truncated.
func TestLargeAndSmallFramesDecodeAlikeOnASocket(t *testing.T) {
	frames := [][]byte{
		bytes.Repeat([]byte{1}, 65000),
		{2, 2},
		bytes.Repeat([]byte{3}, 40000),
		bytes.Repeat([]byte{4}, 65000),
	}
	a, b := net.Pipe()
	go func() {
		_, _ = b.Write(encode(frames...))
		_, _ = b.Write(encode(make([]byte, 50000))[:30000])
		_ = b.Close()
	}()
	r := NewStreamReader(a, 4096, anySize)
	buf := make([]byte, MaxFrameSize)
	for i, want := range frames {
		n, err := r.ReadFrame(buf)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("frame %d: %d bytes, %v", i, n, err)
		}
	}
	if _, err := r.ReadFrame(buf); !errors.Is(err, ErrTruncated) {
		t.Fatalf("a cut-short large frame: %v, want ErrTruncated", err)
	}
}

func TestFrameBufferedSeesOnlyWholeFrames(t *testing.T) {
	wire := encode([]byte{1, 2, 3}, []byte{4, 5, 6, 7})
	r := NewStreamReader(bytes.NewReader(wire[:len(wire)-1]), 64, anySize)
	buf := make([]byte, 16)
	if _, err := r.ReadFrame(buf); err != nil {
		t.Fatal(err)
	}
	if r.FrameBuffered() {
		t.Fatal("a frame missing its last byte counts as buffered")
	}
	r = NewStreamReader(bytes.NewReader(wire), 64, anySize)
	if _, err := r.ReadFrame(buf); err != nil {
		t.Fatal(err)
	}
	if !r.FrameBuffered() || r.Buffered() != PrefixSize+4 {
		t.Fatalf("whole second frame: buffered=%v (%d bytes)", r.FrameBuffered(), r.Buffered())
	}
}
