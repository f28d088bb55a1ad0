package audit

import (
	"encoding/json"
	"net/netip"
)

// Kind is one event type a listener subscribes to; kinds combine as a bit mask.
type Kind uint32

const (
	KindGuest      Kind = 1 << iota // the guest connected or disconnected
	KindConnection                  // a connection opened, closed or was denied
	KindDNS                         // a query to the gateway DNS was answered or refused
	// AllKinds is every kind; Subscribe ignores other bits.
	AllKinds = KindGuest | KindConnection | KindDNS
)

// Via is how a connection reached the network.
type Via string

const (
	ViaNAT        Via = "nat"         // the guest's outbound connection to the host's network
	ViaForward    Via = "forward"     // a host port or Unix listener forwarded to the guest
	ViaHostSocket Via = "host-socket" // the guest reaching a host Unix socket (hostSockets)
)

// Connection phases.
const (
	PhaseOpen   = "open"
	PhaseClose  = "close"
	PhaseDenied = "denied"
)

// Endpoint is one end of a connection: an address and port, or a Unix socket path.
type Endpoint struct {
	Addr netip.AddrPort
	Path string
}

// AddrPort is the endpoint ip:port.
func AddrPort(ap netip.AddrPort) Endpoint { return Endpoint{Addr: ap} }

// Path is the endpoint of a Unix socket.
func Path(path string) Endpoint { return Endpoint{Path: path} }

// IsZero reports an endpoint that was not set.
func (e Endpoint) IsZero() bool { return !e.Addr.IsValid() && e.Path == "" }

func (e Endpoint) String() string {
	if e.Path != "" {
		return e.Path
	}
	if !e.Addr.IsValid() {
		return "-"
	}
	return e.Addr.String()
}

// MarshalJSON writes {"ip":..,"port":..} or {"path":..}.
func (e Endpoint) MarshalJSON() ([]byte, error) {
	if e.Path != "" {
		return json.Marshal(struct {
			Path string `json:"path"`
		}{e.Path})
	}
	return json.Marshal(struct {
		IP   string `json:"ip"`
		Port uint16 `json:"port"`
	}{e.Addr.Addr().String(), e.Addr.Port()})
}

// ConnectionEvent is a `connection` event. Bytes and duration are set on close only.
type ConnectionEvent struct {
	Type           string    `json:"type"` // "connection"
	TimeMs         float64   `json:"timeMs"`
	ID             uint64    `json:"id,omitempty"` // pairs an open with its close; 0 for a denial
	Phase          string    `json:"phase"`
	Protocol       string    `json:"protocol"`
	Via            Via       `json:"via"`
	Source         *Endpoint `json:"source,omitempty"`
	Destination    *Endpoint `json:"destination,omitempty"`
	Name           string    `json:"name,omitempty"`
	Reason         Reason    `json:"reason,omitempty"`
	Detail         string    `json:"detail,omitempty"`
	BytesFromGuest *uint64   `json:"bytesFromGuest,omitempty"`
	BytesToGuest   *uint64   `json:"bytesToGuest,omitempty"`
	DurationMs     *float64  `json:"durationMs,omitempty"`
}

// GuestEvent is a `guest` event.
type GuestEvent struct {
	Type        string  `json:"type"` // "guest"
	TimeMs      float64 `json:"timeMs"`
	Phase       string  `json:"phase"` // "connected" | "disconnected"
	Peer        string  `json:"peer,omitempty"`
	Reason      string  `json:"reason,omitempty"`
	Connections uint64  `json:"connections"`
}

// Guest phases.
const (
	GuestConnected    = "connected"
	GuestDisconnected = "disconnected"
)

// DNSEvent is a `dns` event: one query to the gateway DNS and what became of it.
type DNSEvent struct {
	Type     string   `json:"type"` // "dns"
	TimeMs   float64  `json:"timeMs"`
	Protocol string   `json:"protocol"` // "udp" | "tcp"
	Name     string   `json:"name"`
	Query    string   `json:"queryType"`
	Decision string   `json:"decision"` // "allowed" | "denied"
	Rcode    string   `json:"rcode,omitempty"`
	Answer   []string `json:"answer"`
	Reason   Reason   `json:"reason,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// DNS decisions.
const (
	DNSAllowed = "allowed"
	DNSDenied  = "denied"
)
