package link

import (
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/framing"
)

// frameSpan locates one wire frame in a batchEncoder's iov.
type frameSpan struct {
	start, end int // iov[start:end] are the frame's bytes, Ethernet header onwards
	size       int
}

// batchEncoder turns a batch of outbound packets into wire frames without copying
// payloads: iov holds, per frame, the length prefix (stream framing), then the frame's
// slices, which point into the packets or, for segments cut from an offloaded TCP
// packet (gso.go), into the encoder's header arena. Everything is reused across
// batches, so encoding allocates nothing once the arenas have grown.
type batchEncoder struct {
	prefixed bool
	iov      [][]byte
	frames   []frameSpan
	prefixes []byte // arena of length prefixes
	headers  []byte // arena of per-segment header copies
	payload  [][]byte
}

// encode fills iov and frames for batch. The packets must stay referenced until the
// iov has been written.
func (b *batchEncoder) encode(batch []*stack.PacketBuffer) {
	frames, headerBytes := 0, 0
	for _, pkt := range batch {
		if o, ok := offloadOf(pkt); ok && o.segments() > 1 {
			frames += o.segments()
			headerBytes += o.segments() * o.headerLen()
			continue
		}
		frames++
	}
	// The arenas must not move while iov points into them: size them up front.
	if need := frames * framing.PrefixSize; cap(b.prefixes) < need {
		b.prefixes = make([]byte, 0, need)
	}
	if cap(b.headers) < headerBytes {
		b.headers = make([]byte, 0, headerBytes)
	}
	clear(b.iov)
	b.iov, b.frames, b.prefixes, b.headers = b.iov[:0], b.frames[:0], b.prefixes[:0], b.headers[:0]

	for _, pkt := range batch {
		o, ok := offloadOf(pkt)
		switch {
		case !ok:
			b.beginFrame()
			b.iov = appendSlices(b.iov, pkt, 0)
			b.endFrame()
		case o.segments() == 1:
			b.payload = appendSlices(b.payload[:0], pkt, o.headerLen())
			o.finishChecksum(b.payload)
			b.beginFrame()
			b.iov = appendSlices(b.iov, pkt, 0)
			b.endFrame()
		default:
			b.payload = appendSlices(b.payload[:0], pkt, o.headerLen())
			b.appendSegments(&o)
		}
	}
	clear(b.payload)
}

// appendSegments cuts an offloaded TCP packet into MSS-sized frames.
func (b *batchEncoder) appendSegments(o *tcpOffload) {
	slice, at := 0, 0 // cursor in b.payload
	for i, off := 0, 0; off < o.payload; i, off = i+1, off+o.mss {
		n := min(o.mss, o.payload-off)
		start := len(b.headers)
		b.headers = b.headers[:start+o.headerLen()]
		tcp := o.segmentHeader(b.headers[start:], i, off, n)

		b.beginFrame()
		b.iov = append(b.iov, b.headers[start:])
		first := len(b.iov)
		for left := n; left > 0; {
			s := b.payload[slice][at:]
			take := min(len(s), left)
			b.iov = append(b.iov, s[:take])
			left -= take
			at += take
			if at == len(b.payload[slice]) {
				slice, at = slice+1, 0
			}
		}
		o.sealSegment(tcp, b.iov[first:], n)
		b.endFrame()
	}
}

// beginFrame reserves the frame's length prefix (filled by endFrame) and opens a span.
func (b *batchEncoder) beginFrame() {
	if b.prefixed {
		at := len(b.prefixes)
		b.prefixes = b.prefixes[:at+framing.PrefixSize]
		b.iov = append(b.iov, b.prefixes[at:])
	}
	b.frames = append(b.frames, frameSpan{start: len(b.iov)})
}

func (b *batchEncoder) endFrame() {
	f := &b.frames[len(b.frames)-1]
	f.end = len(b.iov)
	for _, s := range b.iov[f.start:f.end] {
		f.size += len(s)
	}
	if b.prefixed {
		framing.PutPrefix(b.iov[f.start-1], f.size)
	}
}

// appendSlices appends the slices of pkt's bytes from skip bytes past the Ethernet
// header's start (0: the whole frame) to dst, without allocating
// (PacketBuffer.AsSlices allocates).
func appendSlices(dst [][]byte, pkt *stack.PacketBuffer, skip int) [][]byte {
	views, offset := pkt.AsViewList()
	offset += skip
	for v := views.Front(); v != nil; v = v.Next() {
		s := v.AsSlice()
		if offset >= len(s) {
			offset -= len(s)
			continue
		}
		dst = append(dst, s[offset:])
		offset = 0
	}
	return dst
}
