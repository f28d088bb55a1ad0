package link

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// MTU bounds accepted by New (docs/ABI.md allows 576..65520; the link works down to
// IPv4's minimum).
const (
	minMTU = 68
	maxMTU = 65520
)

// streamPrefixSize is the QEMU stream protocol's 4-byte big-endian frame length.
const streamPrefixSize = 4

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
	Size int // the length the guest announced (or sent)
	Max  int // the largest frame accepted
}

func (e *ProtocolError) Error() string {
	if e.Size < header.EthernetMinimumSize {
		return fmt.Sprintf("guest sent a %d-byte frame, shorter than an Ethernet header (%d bytes)", e.Size, header.EthernetMinimumSize)
	}
	return fmt.Sprintf("guest sent a %d-byte frame, larger than the %d bytes the MTU allows", e.Size, e.Max)
}

func checkFrameSize(size, max int) error {
	if size < header.EthernetMinimumSize || size > max {
		return &ProtocolError{Size: size, Max: max}
	}
	return nil
}

// errTruncatedFrame is a stream that ended inside a frame.
var errTruncatedFrame = errors.New("guest stream ended inside a frame")

// streamReader decodes QEMU stream framing.
type streamReader struct {
	conn     io.Reader
	r        *bufio.Reader
	maxFrame int
	prefix   [streamPrefixSize]byte
}

// streamReadBuffer lets one read syscall bring in many small frames.
const streamReadBuffer = 256 << 10

func newStreamReader(r io.Reader, maxFrame int) *streamReader {
	return &streamReader{conn: r, r: bufio.NewReaderSize(r, streamReadBuffer), maxFrame: maxFrame}
}

// next reads one frame into a pooled view the caller owns. The length is validated
// before anything is allocated for it. io.EOF means the guest closed cleanly between
// frames.
func (s *streamReader) next() (*buffer.View, error) {
	if _, err := io.ReadFull(s.r, s.prefix[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errTruncatedFrame
		}
		return nil, err
	}
	size := int(binary.BigEndian.Uint32(s.prefix[:]))
	if err := checkFrameSize(size, s.maxFrame); err != nil {
		return nil, err
	}
	v := buffer.NewViewSize(size)
	if err := s.readBody(v.AsSlice()); err != nil {
		v.Release()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errTruncatedFrame
		}
		return nil, err
	}
	return v, nil
}

// directReadMin is the frame remainder from which the body is read straight from the
// connection into the frame's view instead of through the read buffer: at high MTU this
// saves copying every byte twice, while small frames still come many per read.
const directReadMin = 16 << 10

// readBody fills body: first from what is buffered, then, for a large remainder, with
// reads from the connection itself (safe once the buffer is empty).
func (s *streamReader) readBody(body []byte) error {
	n := 0
	for n < len(body) && s.r.Buffered() > 0 {
		k, _ := s.r.Read(body[n:]) // served from the buffer: no error, no syscall
		n += k
	}
	if len(body)-n >= directReadMin {
		_, err := io.ReadFull(s.conn, body[n:])
		return err
	}
	_, err := io.ReadFull(s.r, body[n:])
	return err
}

// frameBuffered reports whether a whole next frame is already buffered, i.e. whether
// next can return without reading from the connection.
func (s *streamReader) frameBuffered() bool {
	if s.r.Buffered() < streamPrefixSize {
		return false
	}
	prefix, err := s.r.Peek(streamPrefixSize)
	if err != nil {
		return false
	}
	return s.r.Buffered() >= streamPrefixSize+int(binary.BigEndian.Uint32(prefix))
}

// putStreamPrefix writes the length prefix of a size-byte frame into p.
func putStreamPrefix(p []byte, size int) {
	binary.BigEndian.PutUint32(p, uint32(size))
}
