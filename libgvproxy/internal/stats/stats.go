// Package stats defines the JSON shape of an instance's counters (docs/ABI.md, "Stats").
package stats

import "bun-gvproxy/libgvproxy/internal/audit"

// Snapshot is the value of gvproxy_stats.
type Snapshot struct {
	BytesSent     uint64 `json:"bytesSent"`
	BytesReceived uint64 `json:"bytesReceived"`
	TCP           TCP    `json:"tcp"`
	Policy        Policy `json:"policy"`
	Guest         Guest  `json:"guest"`
	Link          Link   `json:"link"`
	// Events counts the event stream's queue (events dropped because the JS side did
	// not drain fast enough, and delivered).
	Events audit.Stats `json:"events"`
}

// TCP are the gateway stack's TCP counters.
type TCP struct {
	CurrentEstablished       uint64 `json:"currentEstablished"`
	FailedConnectionAttempts uint64 `json:"failedConnectionAttempts"`
	Retransmits              uint64 `json:"retransmits"`
	Timeouts                 uint64 `json:"timeouts"`
	ForwardMaxInflightDrop   uint64 `json:"forwardMaxInflightDrop"`
}

// Policy counts outbound flows the egress policy (or the destination guard) refused.
type Policy struct {
	Denied uint64 `json:"denied"`
}

// Guest describes the VM side of the socket.
type Guest struct {
	Connected   bool   `json:"connected"`
	Connections uint64 `json:"connections"`
}

// Link counts frames between the gateway and the guest, and what was refused there: a
// guest sending garbage shows up in protocolErrors and rxDropped, a guest that stops
// reading in txDropped.
type Link struct {
	FramesReceived uint64 `json:"framesReceived"`
	FramesSent     uint64 `json:"framesSent"`
	RxDropped      uint64 `json:"rxDropped"`
	TxDropped      uint64 `json:"txDropped"`
	ProtocolErrors uint64 `json:"protocolErrors"`
}
