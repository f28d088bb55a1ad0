package link

import (
	"io"

	"gvisor.dev/gvisor/pkg/buffer"

	"bun-gvproxy/framing"
)

// slabFrameMax is the largest frame the slab reader serves: with frames up to this
// size a slab holds several, so reading whole slabs pays off. Larger frames (MTU 65520)
// are read each straight into a view of their own (streamReader).
const slabFrameMax = 16 << 10

// slabSize is one slab: gVisor's largest pooled chunk.
const slabSize = buffer.MaxChunkSize

// slabReader decodes a guest's QEMU stream framing for small frames without copying
// them: the connection is read straight into a slab (a pooled 64 KiB chunk), and each
// frame is handed on as a view of its own bytes inside the slab (a clone of the slab's
// view, which shares the chunk by reference count). One read brings in dozens of
// MTU-1500 frames; the only copy is of a frame cut by the slab's end, moved to the next
// slab. Views that share a chunk are copy-on-write (buffer.View.Write), and the stack
// edits a frame's headers only within that frame's bytes.
type slabReader struct {
	conn   io.Reader
	limits framing.Limits

	slab       *buffer.View // the slab being parsed (nil before the first read)
	data       []byte       // slab's bytes
	start, end int          // next frame's prefix; end of the bytes read
}

func newSlabReader(conn io.Reader, maxFrame int) *slabReader {
	return &slabReader{conn: conn, limits: frameLimits(maxFrame)}
}

// next returns the next frame as a view the caller owns. The length is validated as
// soon as its prefix is read, before waiting for the body. io.EOF means the guest closed
// cleanly between frames; framing.ErrTruncated a stream that ended inside one.
func (r *slabReader) next() (*buffer.View, error) {
	for {
		size, ok, err := r.prefix()
		if err != nil {
			return nil, err
		}
		if ok && r.end-r.start >= framing.PrefixSize+size {
			v := r.slab.Clone()
			v.TrimFront(r.start + framing.PrefixSize)
			v.CapLength(size)
			r.start += framing.PrefixSize + size
			return v, nil
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// prefix is the length announced at start, once its four bytes are there.
func (r *slabReader) prefix() (size int, ok bool, err error) {
	if r.end-r.start < framing.PrefixSize {
		return 0, false, nil
	}
	b := r.data[r.start:]
	size = int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if err := r.limits.Check(size); err != nil {
		return 0, false, asProtocolError(err)
	}
	return size, true, nil
}

// fill reads more of the stream, first moving to a new slab when this one has no room
// left for a whole largest frame after start.
func (r *slabReader) fill() error {
	if r.slab == nil || len(r.data)-r.start < framing.PrefixSize+r.limits.Max {
		r.rotate()
	}
	n, err := r.conn.Read(r.data[r.end:])
	r.end += n
	switch {
	case n > 0:
		return nil
	case err == nil:
		return nil
	case err == io.EOF && r.end == r.start:
		return io.EOF
	case err == io.EOF:
		return framing.ErrTruncated
	default:
		return err
	}
}

// rotate starts a new slab holding the unparsed bytes of the old one, whose own
// reference is dropped (the frames handed out keep it alive as long as they need it).
func (r *slabReader) rotate() {
	next := buffer.NewViewSize(slabSize)
	data := next.AsSlice()
	n := 0
	if r.slab != nil {
		n = copy(data, r.data[r.start:r.end])
		r.slab.Release()
	}
	r.slab, r.data, r.start, r.end = next, data, 0, n
}

// FrameBuffered reports whether a whole next frame is already read, so next returns it
// without reading the connection.
func (r *slabReader) FrameBuffered() bool {
	size, ok, err := r.prefix()
	return err == nil && ok && r.end-r.start >= framing.PrefixSize+size
}

// release drops the reader's reference to its slab (the reader is done).
func (r *slabReader) release() {
	if r.slab != nil {
		r.slab.Release()
		r.slab = nil
	}
}
