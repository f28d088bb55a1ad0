package link

import (
	"errors"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack/gro"

	"bun-gvproxy/framing"
)

// readLoop reads the guest's frames until the connection fails or breaks the
// protocol, and returns why.
func (s *session) readLoop() error {
	if s.transport.Datagram() {
		return s.readDatagrams()
	}
	return s.readStream()
}

// readStream coalesces the TCP segments of each burst the guest sent (GRO) and hands
// the stack the coalesced packets before the reader would wait for more, so the stack
// processes one large segment per burst instead of one per frame.
func (s *session) readStream() error {
	r := newFrameReader(s.conn, s.e.maxFrame)
	defer r.release()
	gro := newCoalescer()
	defer s.e.flush(gro)
	for {
		v, err := r.next()
		if err != nil {
			s.noteReadError(err)
			return err
		}
		s.e.receive(v, gro)
		if !r.FrameBuffered() {
			s.e.flush(gro)
		}
	}
}

// readDatagrams reads one frame per datagram into a reused buffer one byte larger than
// the largest frame, so an oversized datagram shows up as such instead of silently
// truncated, and copies each good frame into a pooled view.
func (s *session) readDatagrams() error {
	buf := make([]byte, s.e.maxFrame+1)
	warned := false
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return err
		}
		if err := asProtocolError(frameLimits(s.e.maxFrame).Check(n)); err != nil {
			s.e.counters.protocolErrors.Add(1)
			s.e.counters.rxDropped.Add(1)
			if !warned { // one line per guest: a flood must not flood the log
				warned = true
				s.e.log.Warnf("dropping frame: %v (further bad datagrams are dropped silently)", err)
			}
			continue
		}
		s.e.receive(buffer.NewViewWithData(buf[:n]), nil)
	}
}

func (s *session) noteReadError(err error) {
	var perr *ProtocolError
	switch {
	case errors.As(err, &perr):
		s.e.counters.protocolErrors.Add(1)
		s.e.log.Warnf("dropping guest connection: %v", err)
	case errors.Is(err, framing.ErrTruncated):
		s.e.counters.rxDropped.Add(1)
	}
}

// receive takes ownership of a frame (at least an Ethernet header long) and delivers
// it to the stack, through gro when not nil, if it is addressed to the gateway.
func (e *Endpoint) receive(v *buffer.View, gro *gro.GRO) {
	frame := v.AsSlice()
	e.counters.framesReceived.Add(1)
	e.counters.bytesReceived.Add(uint64(len(frame)))
	if e.capture != nil {
		e.capture.record([][]byte{frame})
	}
	if e.logFrames {
		e.logFrame("guest->gateway", frame)
	}
	eth := header.Ethernet(frame)
	if dst := eth.DestinationAddress(); dst != e.mac && dst != header.EthernetBroadcastAddress {
		// One guest, no switching: nothing else on the link could want it.
		e.counters.rxDropped.Add(1)
		v.Release()
		return
	}
	protocol := eth.Type()
	pkt := newInboundPacket(v)
	e.deliver(pkt, protocol, gro)
	pkt.DecRef()
}
