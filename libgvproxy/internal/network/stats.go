package network

import (
	"bun-gvproxy/libgvproxy/internal/stats"
)

// Stats returns the network's counters (docs/ABI.md, "Stats").
func (n *Network) Stats() stats.Snapshot {
	tcp := n.stack.Stats().TCP
	l := n.link.Stats()
	return stats.Snapshot{
		BytesSent:     l.BytesSent,
		BytesReceived: l.BytesReceived,
		TCP: stats.TCP{
			CurrentEstablished:       tcp.CurrentEstablished.Value(),
			FailedConnectionAttempts: tcp.FailedConnectionAttempts.Value() + n.failedConnects.Load(),
			Retransmits:              tcp.Retransmits.Value(),
			Timeouts:                 tcp.Timeouts.Value(),
			ForwardMaxInflightDrop:   tcp.ForwardMaxInFlightDrop.Value(),
		},
		Policy: stats.Policy{Denied: n.audit.Denied()},
		Events: n.audit.Stats(),
		Guest: stats.Guest{
			Connected:   n.guests.active.Load() > 0,
			Connections: n.guests.total.Load(),
		},
		Link: stats.Link{
			FramesReceived: l.FramesReceived,
			FramesSent:     l.FramesSent,
			RxDropped:      l.RxDropped,
			TxDropped:      l.TxDropped,
			ProtocolErrors: l.ProtocolErrors,
		},
	}
}
