package audit

// Reason is the stable code of a denial or of why a connection was cut. Codes are part
// of the public contract (DESIGN.md "Public API, live control"): add, never rename.
type Reason string

const (
	// IPNotAllowed: no allowNet entry covers the address and no allowed name resolved to it.
	IPNotAllowed Reason = "ip-not-allowed"
	// PortNotAllowed: an allowed name resolved to the address, but no entry covers the port.
	PortNotAllowed Reason = "port-not-allowed"
	// EgressNone: allowNet is "none"; every egress flow is refused.
	EgressNone Reason = "egress-none"
	// QUICRefused: UDP 443 to an address opened only by a name (QUIC hides the name).
	QUICRefused Reason = "quic-refused"
	// SNIMismatch: a TLS ClientHello without a server name, or naming a host not allowed.
	SNIMismatch Reason = "sni-mismatch"
	// HostMismatch: an HTTP request without a host, or for a host not allowed (any
	// request of the connection, not only the first).
	HostMismatch Reason = "host-mismatch"
	// NotInspectable: the first bytes on an inspected port are not a TLS ClientHello or
	// plain HTTP/1 request that can be judged (garbage, ECH, ambiguous or unfollowable
	// HTTP, nothing conclusive within the inspection bound).
	NotInspectable Reason = "not-inspectable"
	// DNSRefused: a DNS query for a name allowNet does not allow (any record type).
	DNSRefused Reason = "dns-refused"
	// DNSMalformed: a DNS message to the gateway that is no answerable query.
	DNSMalformed Reason = "dns-malformed"
	// HostLoopback: the destination is the host itself (loopback, unspecified, one of
	// its interface addresses, or a name rebound to one) and nothing opens it.
	HostLoopback Reason = "host-loopback"
	// LinkLocal: link-local destinations (cloud metadata services) are never dialed.
	LinkLocal Reason = "link-local"
	// VirtualSubnet: another address of the virtual subnet is not on the host network.
	VirtualSubnet Reason = "virtual-subnet"
	// PolicyChanged: setAllowNet no longer allows a live connection or flow; it was cut.
	PolicyChanged Reason = "policy-changed"
	// Unexposed: the forward the connection came through was removed.
	Unexposed Reason = "unexposed"
	// SecretMisuse: a request carried a secret's placeholder to a host not among its hosts.
	SecretMisuse Reason = "secret-misuse"
	// UpstreamCertificate: the real host's certificate failed verification (TLS interception).
	UpstreamCertificate Reason = "upstream-certificate"
	// ConnectFailed: the far side refused or could not be reached (the guest's port for a
	// forward, the host's for NAT), or the guest gave up its connect while the network
	// dialed the far side (which was then closed at once); the connection never opened
	// (a close, no open).
	ConnectFailed Reason = "connect-failed"
)
