package link

import "sync/atomic"

// Stats are the link's counters since it was created.
type Stats struct {
	// FramesReceived/BytesReceived count well-formed frames read from guests (bytes
	// are Ethernet frame bytes, without the stream length prefix).
	FramesReceived uint64
	BytesReceived  uint64
	// FramesSent/BytesSent count frames written to guests.
	FramesSent uint64
	BytesSent  uint64
	// RxDropped counts guest frames not delivered to the stack: malformed datagrams,
	// frames to another MAC, frames arriving before the stack is attached.
	RxDropped uint64
	// TxDropped counts frames for the guest that were not sent: no guest attached,
	// the send queue full, a datagram the socket refused.
	TxDropped uint64
	// ProtocolErrors counts guest protocol violations (bad frame lengths); on a
	// stream each one also dropped the connection.
	ProtocolErrors uint64
	// Attached is whether a guest is attached now; Attachments counts attaches.
	Attached    bool
	Attachments uint64
}

type counters struct {
	framesReceived atomic.Uint64
	bytesReceived  atomic.Uint64
	framesSent     atomic.Uint64
	bytesSent      atomic.Uint64
	rxDropped      atomic.Uint64
	txDropped      atomic.Uint64
	protocolErrors atomic.Uint64
	attachments    atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (e *Endpoint) Stats() Stats {
	c := &e.counters
	return Stats{
		FramesReceived: c.framesReceived.Load(),
		BytesReceived:  c.bytesReceived.Load(),
		FramesSent:     c.framesSent.Load(),
		BytesSent:      c.bytesSent.Load(),
		RxDropped:      c.rxDropped.Load(),
		TxDropped:      c.txDropped.Load(),
		ProtocolErrors: c.protocolErrors.Load(),
		Attached:       e.current.Load() != nil,
		Attachments:    c.attachments.Load(),
	}
}
