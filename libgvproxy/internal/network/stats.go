package network

import (
	"bun-gvproxy/libgvproxy/internal/stats"
)

// Stats returns the network's counters (docs/ABI.md, "Stats").
func (n *Network) Stats() stats.Snapshot {
	tcp := n.stack.Stats().TCP
	return stats.Snapshot{
		BytesSent:     n.sw.Sent(),
		BytesReceived: n.sw.Received(),
		TCP: stats.TCP{
			CurrentEstablished:       tcp.CurrentEstablished.Value(),
			FailedConnectionAttempts: tcp.FailedConnectionAttempts.Value(),
			Retransmits:              tcp.Retransmits.Value(),
			Timeouts:                 tcp.Timeouts.Value(),
			ForwardMaxInflightDrop:   tcp.ForwardMaxInFlightDrop.Value(),
		},
		Policy: stats.Policy{Denied: n.policyDenied.Load()},
		Guest: stats.Guest{
			Connected:   n.guests.active.Load() > 0,
			Connections: n.guests.total.Load(),
		},
	}
}
