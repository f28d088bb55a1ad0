package link

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Send queue bounds. The queue decouples the stack from socket writes; it is drained
// in batches by the writer goroutine. When it is full (a guest that stops reading)
// frames are dropped as on a congested link, never blocking the stack, which may be
// calling from the very goroutine that reads the guest's frames.
const (
	txQueueFrames = 8192
	txQueueBytes  = 32 << 20
)

// WritePackets implements stack.LinkWriter: each frame (Ethernet header already added
// by AddHeader) is queued for the attached guest. Without a guest the frames are
// dropped at the cost of one atomic load and add. The stack keeps its references; the
// queue holds its own until the frame is written.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	list := pkts.AsSlice()
	s := e.current.Load()
	if s == nil {
		e.counters.txDropped.Add(uint64(len(list)))
		return len(list), nil
	}
	if dropped := s.tx.push(e, list); dropped > 0 {
		e.counters.txDropped.Add(uint64(dropped))
	}
	return len(list), nil
}

// txQueue is a bounded FIFO of frames for one guest connection.
type txQueue struct {
	mu      sync.Mutex
	pkts    []*stack.PacketBuffer
	bytes   int
	stopped bool
	wake    chan struct{} // one pending wake-up for the writer
}

func (q *txQueue) init() { q.wake = make(chan struct{}, 1) }

// push queues the frames the gateway may send and returns how many were dropped
// because the queue was full or stopped.
func (q *txQueue) push(e *Endpoint, list []*stack.PacketBuffer) (dropped int) {
	q.mu.Lock()
	wasEmpty := len(q.pkts) == 0
	for _, pkt := range list {
		if !e.mayClaim(pkt) {
			continue
		}
		size := pkt.Size()
		if q.stopped || len(q.pkts) >= txQueueFrames || q.bytes+size > txQueueBytes {
			dropped++
			continue
		}
		q.pkts = append(q.pkts, pkt.IncRef())
		q.bytes += size
	}
	queued := len(q.pkts) > 0
	q.mu.Unlock()
	if wasEmpty && queued {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return dropped
}

// take moves every queued frame into spare (returned) and empties the queue.
func (q *txQueue) take(spare []*stack.PacketBuffer) []*stack.PacketBuffer {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.pkts
	q.pkts = spare[:0]
	q.bytes = 0
	return batch
}

// close drops whatever is still queued; later pushes drop their frames.
func (q *txQueue) close() {
	q.mu.Lock()
	q.stopped = true
	pkts := q.pkts
	q.pkts = nil
	q.bytes = 0
	q.mu.Unlock()
	releaseAll(pkts)
}

func releaseAll(pkts []*stack.PacketBuffer) {
	for i, pkt := range pkts {
		pkt.DecRef()
		pkts[i] = nil
	}
}

// frameWriter writes a batch of frames to a guest connection.
type frameWriter interface {
	write(batch []*stack.PacketBuffer) error
}

// writeLoop drains the queue into the connection until the session stops or a write
// fails (which stops the session).
func (s *session) writeLoop() {
	var w frameWriter
	if s.transport.Datagram() {
		w = &datagramWriter{conn: s.conn, e: s.e}
	} else {
		w = &streamWriter{conn: s.conn, e: s.e}
	}
	var batch []*stack.PacketBuffer
	for {
		select {
		case <-s.tx.wake:
		case <-s.done:
			return
		}
		for {
			batch = s.tx.take(batch)
			if len(batch) == 0 {
				break
			}
			err := w.write(batch)
			releaseAll(batch)
			if err != nil {
				s.stop(err)
				return
			}
		}
	}
}

// streamWriter sends a whole batch as length+frame pairs with one writev.
type streamWriter struct {
	conn net.Conn
	e    *Endpoint
	enc  batchEncoder
}

func (w *streamWriter) write(batch []*stack.PacketBuffer) error {
	w.enc.prefixed = true
	w.enc.encode(batch)
	w.e.observe(&w.enc)
	bufs := net.Buffers(w.enc.iov) // WriteTo consumes its receiver; enc.iov keeps the array
	if _, err := bufs.WriteTo(w.conn); err != nil {
		return err
	}
	bytes := 0
	for _, f := range w.enc.frames {
		bytes += f.size
	}
	w.e.counters.framesSent.Add(uint64(len(w.enc.frames)))
	w.e.counters.bytesSent.Add(uint64(bytes))
	return nil
}

// observe records (capture) and logs (LogFrames) each frame of an encoded batch.
func (e *Endpoint) observe(enc *batchEncoder) {
	if e.capture == nil && !e.logFrames {
		return
	}
	for _, f := range enc.frames {
		slices := enc.iov[f.start:f.end]
		if e.capture != nil {
			e.capture.record(slices)
		}
		if e.logFrames && len(slices[0]) >= header.EthernetMinimumSize {
			e.logFrame("gateway->guest", slices[0])
		}
	}
}

// Datagram sends that the socket refuses for lack of buffer space (macOS reports
// ENOBUFS instead of blocking, gvisor-tap-vsock issue 367) are retried briefly, then
// the frame is dropped.
const (
	enobufsRetries = 200
	enobufsBackoff = 50 * time.Microsecond
)

// datagramWriter sends one datagram per frame, gathered into a reused buffer.
type datagramWriter struct {
	conn net.Conn
	e    *Endpoint
	enc  batchEncoder
	buf  []byte
}

func (w *datagramWriter) write(batch []*stack.PacketBuffer) error {
	w.enc.encode(batch)
	w.e.observe(&w.enc)
	for _, f := range w.enc.frames {
		w.buf = w.buf[:0]
		for _, s := range w.enc.iov[f.start:f.end] {
			w.buf = append(w.buf, s...)
		}
		if err := w.send(); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Datagrams are lossy: a guest that went away is served again when it
			// sends from its new address.
			w.e.counters.txDropped.Add(1)
			continue
		}
		w.e.counters.framesSent.Add(1)
		w.e.counters.bytesSent.Add(uint64(len(w.buf)))
	}
	return nil
}

func (w *datagramWriter) send() error {
	for i := 0; ; i++ {
		_, err := w.conn.Write(w.buf)
		if err == nil || !errors.Is(err, syscall.ENOBUFS) || i == enobufsRetries {
			return err
		}
		time.Sleep(enobufsBackoff)
	}
}
