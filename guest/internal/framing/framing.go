// Package framing encodes and decodes Ethernet frames the way a VM hands them to
// gvisor-tap-vsock: the QEMU stream protocol prefixes every frame with its length as a
// 4-byte big-endian integer; the vfkit protocol sends one frame per datagram.
package framing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// LengthPrefixSize is the size of the QEMU stream protocol's per-frame header.
const LengthPrefixSize = 4

// MaxFrameSize bounds a frame so a corrupt length prefix cannot make the reader
// allocate or wait for gigabytes. 65535 + Ethernet header covers the largest MTU
// gvisor-tap-vsock accepts.
const MaxFrameSize = 65535 + 14

// VfkitHandshake is the datagram old vfkit versions send first; gvisor-tap-vsock
// consumes it, and sending it makes the server learn our address before any frame.
var VfkitHandshake = []byte("VFKT")

// ErrFrameTooLarge reports a frame (or a length prefix) above MaxFrameSize.
var ErrFrameTooLarge = errors.New("frame too large")

// PutLengthPrefix writes the QEMU header for a frame of size bytes into dst.
func PutLengthPrefix(dst []byte, size int) error {
	if size > MaxFrameSize {
		return fmt.Errorf("encode %d-byte frame: %w", size, ErrFrameTooLarge)
	}
	binary.BigEndian.PutUint32(dst, uint32(size))
	return nil
}

// EncodeStream returns frame with its QEMU length prefix, ready for one write call
// (one write keeps concurrent writers from interleaving a header with another frame).
func EncodeStream(frame []byte) ([]byte, error) {
	out := make([]byte, LengthPrefixSize+len(frame))
	if err := PutLengthPrefix(out, len(frame)); err != nil {
		return nil, err
	}
	copy(out[LengthPrefixSize:], frame)
	return out, nil
}

// StreamReader reads length-prefixed frames from a byte stream.
type StreamReader struct {
	r      io.Reader
	header [LengthPrefixSize]byte
}

// NewStreamReader reads frames from r; wrap r in a bufio.Reader for fewer syscalls.
func NewStreamReader(r io.Reader) *StreamReader {
	return &StreamReader{r: r}
}

// ReadFrame reads the next frame into buf (which must hold MaxFrameSize bytes) and
// returns its length. A clean end of stream between frames is io.EOF; a stream cut
// inside a frame is io.ErrUnexpectedEOF.
func (s *StreamReader) ReadFrame(buf []byte) (int, error) {
	if _, err := io.ReadFull(s.r, s.header[:]); err != nil {
		return 0, err
	}
	size := int(binary.BigEndian.Uint32(s.header[:]))
	if size > MaxFrameSize || size > len(buf) {
		return 0, fmt.Errorf("read frame with length prefix %d: %w", size, ErrFrameTooLarge)
	}
	if _, err := io.ReadFull(s.r, buf[:size]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("read %d-byte frame body: %w", size, err)
	}
	return size, nil
}
