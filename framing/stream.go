package framing

import (
	"bufio"
	"encoding/binary"
	"io"
)

// PrefixSize is the size of the QEMU stream protocol's per-frame length prefix.
const PrefixSize = 4

// PutPrefix writes the length prefix of a size-byte frame into p (PrefixSize bytes).
func PutPrefix(p []byte, size int) {
	binary.BigEndian.PutUint32(p, uint32(size))
}

// AppendFrame appends frame with its length prefix to dst.
func AppendFrame(dst, frame []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(frame)))
	return append(dst, frame...)
}

// StreamReader decodes QEMU stream framing. Every length prefix is checked against
// the reader's limits before anything is read or allocated for the frame, so an
// untrusted peer cannot make it wait for, or allocate, more than Limits.Max bytes.
type StreamReader struct {
	raw    io.Reader
	r      *bufio.Reader
	limits Limits
	prefix [PrefixSize]byte
}

// NewStreamReader reads frames from r through a read buffer of bufferSize bytes (one
// read syscall then brings in many small frames).
func NewStreamReader(r io.Reader, bufferSize int, limits Limits) *StreamReader {
	return &StreamReader{raw: r, r: bufio.NewReaderSize(r, bufferSize), limits: limits}
}

// NextSize reads the next length prefix and returns the frame's size, which the caller
// then reads with ReadBody. A clean end of stream between frames is io.EOF; a stream
// cut inside the prefix is ErrTruncated; a size outside the limits is a *SizeError.
func (s *StreamReader) NextSize() (int, error) {
	if _, err := io.ReadFull(s.r, s.prefix[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, ErrTruncated
		}
		return 0, err
	}
	size := int(binary.BigEndian.Uint32(s.prefix[:]))
	if err := s.limits.Check(size); err != nil {
		return 0, err
	}
	return size, nil
}

// directReadMin is the frame remainder from which the body is read straight from the
// connection into the caller's buffer instead of through the read buffer: at high MTU
// this saves copying every byte twice, while small frames still come many per read.
const directReadMin = 16 << 10

// ReadBody fills body (exactly the size NextSize returned) with the frame's bytes:
// first from what is buffered, then, for a large remainder, with reads from the
// connection itself (safe once the buffer is empty). A stream that ends before the
// body does is ErrTruncated.
func (s *StreamReader) ReadBody(body []byte) error {
	n := 0
	for n < len(body) && s.r.Buffered() > 0 {
		k, _ := s.r.Read(body[n:]) // served from the buffer: no error, no syscall
		n += k
	}
	var err error
	if len(body)-n >= directReadMin {
		_, err = io.ReadFull(s.raw, body[n:])
	} else {
		_, err = io.ReadFull(s.r, body[n:])
	}
	if err != nil {
		return truncated(err)
	}
	return nil
}

// ReadFrame reads the next frame into buf and returns its length; buf must hold
// Limits.Max bytes (a frame larger than buf is a *SizeError). Errors as NextSize and
// ReadBody.
func (s *StreamReader) ReadFrame(buf []byte) (int, error) {
	size, err := s.NextSize()
	if err != nil {
		return 0, err
	}
	if size > len(buf) {
		return 0, &SizeError{Size: size, Limits: Limits{Min: s.limits.Min, Max: len(buf)}}
	}
	if err := s.ReadBody(buf[:size]); err != nil {
		return 0, err
	}
	return size, nil
}

// FrameBuffered reports whether a whole next frame is already buffered, i.e. whether
// the next NextSize and ReadBody can return without reading from the connection.
func (s *StreamReader) FrameBuffered() bool {
	if s.r.Buffered() < PrefixSize {
		return false
	}
	prefix, err := s.r.Peek(PrefixSize)
	if err != nil {
		return false
	}
	return s.r.Buffered() >= PrefixSize+int(binary.BigEndian.Uint32(prefix))
}

// Buffered is how many bytes have been read from the connection and not yet returned.
func (s *StreamReader) Buffered() int { return s.r.Buffered() }

// StreamWriter encodes QEMU stream framing into a write buffer, so that frames queued
// back to back leave in one write. It is not safe for concurrent use.
type StreamWriter struct {
	w      *bufio.Writer
	max    int
	prefix [PrefixSize]byte
}

// NewStreamWriter writes frames of at most max bytes to w through a buffer of
// bufferSize bytes.
func NewStreamWriter(w io.Writer, bufferSize, max int) *StreamWriter {
	return &StreamWriter{w: bufio.NewWriterSize(w, bufferSize), max: max}
}

// WriteFrame buffers frame with its length prefix; it may sit in the buffer until
// Flush. A frame larger than the writer's maximum is a *SizeError and writes nothing.
func (s *StreamWriter) WriteFrame(frame []byte) error {
	if len(frame) > s.max {
		return &SizeError{Size: len(frame), Limits: Limits{Max: s.max}}
	}
	PutPrefix(s.prefix[:], len(frame))
	if _, err := s.w.Write(s.prefix[:]); err != nil {
		return err
	}
	_, err := s.w.Write(frame)
	return err
}

// Flush writes every buffered frame.
func (s *StreamWriter) Flush() error { return s.w.Flush() }
