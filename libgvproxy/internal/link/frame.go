package link

import (
	"errors"
	"fmt"
	"io"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"bun-gvproxy/framing"
)

// MTU bounds accepted by New (docs/ABI.md allows 576..65520; the link works down to
// IPv4's minimum).
const (
	minMTU = 68
	maxMTU = 65520
)

// maxFrameSize is the largest frame accepted from a guest at this MTU: the MTU plus the
// Ethernet header (no VLAN tags: the gateway does not speak 802.1Q). At most MTU 65520
// it fits gVisor's largest pooled chunk, so a frame is never allocated from the Go heap.
func maxFrameSize(mtu uint32) int {
	return min(int(mtu)+header.EthernetMinimumSize, buffer.MaxChunkSize)
}

// ProtocolError is a guest breaking the link protocol: a frame length that cannot be an
// Ethernet frame at this MTU. On a stream the framing is lost and the connection is
// dropped; a datagram is dropped alone.
type ProtocolError struct {
	framing.SizeError // the length the guest announced (or sent), and the limits
}

func (e *ProtocolError) Error() string {
	if e.Size < header.EthernetMinimumSize {
		return fmt.Sprintf("guest sent a %d-byte frame, shorter than an Ethernet header (%d bytes)", e.Size, header.EthernetMinimumSize)
	}
	return fmt.Sprintf("guest sent a %d-byte frame, larger than the %d bytes the MTU allows", e.Size, e.Max)
}

// frameLimits are the frame sizes a guest may send: an Ethernet header up to max.
func frameLimits(max int) framing.Limits {
	return framing.Limits{Min: header.EthernetMinimumSize, Max: max}
}

// asProtocolError turns the codec's size error into the link's ProtocolError.
func asProtocolError(err error) error {
	var serr *framing.SizeError
	if errors.As(err, &serr) {
		return &ProtocolError{SizeError: *serr}
	}
	return err
}

// frameReader yields a stream guest's frames, each a view the caller owns.
type frameReader interface {
	next() (*buffer.View, error)
	// FrameBuffered reports whether next can return without reading the connection.
	FrameBuffered() bool
	release()
}

// newFrameReader picks the decoder for the guest's largest frame: slabs for small
// frames, a view per frame for large ones.
func newFrameReader(r io.Reader, maxFrame int) frameReader {
	if maxFrame <= slabFrameMax {
		return newSlabReader(r, maxFrame)
	}
	return newStreamReader(r, maxFrame)
}

// streamReader decodes a guest's QEMU stream framing into pooled views.
type streamReader struct {
	*framing.StreamReader
}

// streamReadBuffer lets one read syscall bring in many small frames.
const streamReadBuffer = 256 << 10

func newStreamReader(r io.Reader, maxFrame int) *streamReader {
	return &streamReader{framing.NewStreamReader(r, streamReadBuffer, frameLimits(maxFrame))}
}

// release implements frameReader; the read buffer is garbage collected.
func (s *streamReader) release() {}

// next reads one frame into a pooled view the caller owns. The length is validated
// before anything is allocated for it. io.EOF means the guest closed cleanly between
// frames; framing.ErrTruncated a stream that ended inside one.
func (s *streamReader) next() (*buffer.View, error) {
	size, err := s.NextSize()
	if err != nil {
		return nil, asProtocolError(err)
	}
	v := buffer.NewViewSize(size)
	if err := s.ReadBody(v.AsSlice()); err != nil {
		v.Release()
		return nil, err
	}
	return v, nil
}
