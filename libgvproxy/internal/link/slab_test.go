package link

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"

	"bun-gvproxy/framing"
)

// choppyReader returns its data in reads of random sizes, so frames and prefixes are
// cut at every possible place.
type choppyReader struct {
	data []byte
	rng  *rand.Rand
}

func (c *choppyReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rng.IntN(5000))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestSlabReaderKeepsEveryFrameIntactAcrossSlabs(t *testing.T) {
	max := maxFrameSize(testMTU)
	rng := rand.New(rand.NewPCG(1, 2))
	var frames [][]byte
	for i := range 2000 {
		frames = append(frames, ethernetFrame(gatewayMAC, rng.IntN(testMTU+1), byte(i)))
	}
	r := newSlabReader(&choppyReader{data: streamEncode(frames...), rng: rng}, max)
	defer r.release()
	// Every view is kept until the end: slabs rotated away must stay valid for them.
	var views []*buffer.View
	for i := range frames {
		v, err := r.next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		views = append(views, v)
	}
	if _, err := r.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
	for i, v := range views {
		if !bytes.Equal(v.AsSlice(), frames[i]) {
			t.Fatalf("frame %d differs after the slab moved on", i)
		}
		v.Release()
	}
}

func TestSlabReaderFramesAreCopyOnWrite(t *testing.T) {
	a, b := ethernetFrame(gatewayMAC, 100, 1), ethernetFrame(gatewayMAC, 100, 2)
	r := newSlabReader(bytes.NewReader(streamEncode(a, b)), maxFrameSize(testMTU))
	defer r.release()
	va, _ := r.next()
	vb, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	// Appending to the first frame's view must not overwrite the second's bytes.
	if _, err := va.Write(bytes.Repeat([]byte{0xff}, 64)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(vb.AsSlice(), b) {
		t.Fatal("a write to one frame's view changed the next frame")
	}
	va.Release()
	vb.Release()
}

func TestSlabReaderRejectsABadLengthAndReportsTruncation(t *testing.T) {
	max := maxFrameSize(testMTU)
	bad := framing.AppendFrame(nil, make([]byte, max+1))
	r := newSlabReader(bytes.NewReader(bad), max)
	var perr *ProtocolError
	if _, err := r.next(); !errors.As(err, &perr) || perr.Size != max+1 {
		t.Fatalf("oversized length: %v, want a ProtocolError for %d bytes", err, max+1)
	}
	r.release()
	short := streamEncode(ethernetFrame(gatewayMAC, 200, 1))
	r = newSlabReader(bytes.NewReader(short[:len(short)-10]), max)
	defer r.release()
	if _, err := r.next(); !errors.Is(err, framing.ErrTruncated) {
		t.Fatalf("a cut-short frame: %v, want framing.ErrTruncated", err)
	}
}

func TestFrameReaderUsesSlabsForSmallFramesOnly(t *testing.T) {
	if _, ok := newFrameReader(nil, maxFrameSize(1500)).(*slabReader); !ok {
		t.Fatal("MTU 1500 frames are not read into slabs")
	}
	if _, ok := newFrameReader(nil, maxFrameSize(65520)).(*streamReader); !ok {
		t.Fatal("MTU 65520 frames are not read one view each")
	}
}
