package framing

import (
	"errors"
	"fmt"
	"io"
)

// EthernetHeaderSize is the smallest frame that can be Ethernet: two MACs and a type.
const EthernetHeaderSize = 14

// MaxFrameSize is the largest frame either transport carries: the largest IP packet
// gvisor-tap-vsock accepts (65535) plus the Ethernet header. It bounds what a reader
// allocates for a length prefix when no MTU is known.
const MaxFrameSize = 65535 + EthernetHeaderSize

// Limits are the frame sizes a reader accepts, bounds included.
type Limits struct {
	Min, Max int
}

// Check returns a *SizeError when size is outside the limits.
func (l Limits) Check(size int) error {
	if size < l.Min || size > l.Max {
		return &SizeError{Size: size, Limits: l}
	}
	return nil
}

// SizeError is a frame (or a length prefix announcing one) outside the accepted
// limits. On a stream the framing is lost with it; a datagram is dropped alone.
type SizeError struct {
	Size int // the length announced or received
	Limits
}

func (e *SizeError) Error() string {
	if e.Size < e.Min {
		return fmt.Sprintf("%d-byte frame, shorter than the %d-byte minimum", e.Size, e.Min)
	}
	return fmt.Sprintf("%d-byte frame, larger than the %d-byte maximum", e.Size, e.Max)
}

// ErrTruncated is a stream that ended inside a frame (its prefix or its body). It
// matches io.ErrUnexpectedEOF with errors.Is.
var ErrTruncated = fmt.Errorf("stream ended inside a frame: %w", io.ErrUnexpectedEOF)

// truncated maps the end of a stream met inside a frame to ErrTruncated.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}
