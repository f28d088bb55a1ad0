// Package policy is the egress policy engine behind the `allowNet` option: it decides
// which outbound connections a guest may make, and which names the gateway DNS answers.
// It is pure Go; the network core calls it at three points (DNS query, DNS answer, new
// outbound TCP connection or UDP flow) and, for TCP 443/80 destinations allowed only by
// name, on the connection's first bytes. For a DNS server it cannot change (upstream's),
// ScreenDNSPacketConn and ScreenDNSListener wrap the server's sockets and apply the DNS
// half (FilterQuery, NXDomainReply, ObserveResponse, CapTTLs) on the wire.
//
// # Threat model
//
// The guest is hostile: it runs arbitrary code as root, crafts any packet, and wants to
// reach a host the caller did not allow, or the host machine itself. The caller's list
// (`allowNet`) names what may be reached: host names, `*.domain` wildcards, IPs and
// CIDRs, each optionally with a port. An empty list means no filtering.
//
// DNS sinkholing alone (answering only allowed names) is what earlier designs did; a
// guest walks around it in several ways, each closed here:
//
//   - Connecting to an IP literal: every new TCP connection and UDP flow is checked by
//     destination address and port before the host dials (Decide). An address is open
//     only if an IP/CIDR entry covers it, or an allowed name resolved to it through the
//     gateway DNS (ObserveResponse / ObserveDNSAnswer) and has not expired.
//   - Asking another DNS server (8.8.8.8, DoT on 853, DoH to an unlisted host): that is
//     just another connection to an address nobody allowed, refused like the rest.
//   - UDP and QUIC: UDP flows go through the same check. UDP 443 to a destination
//     allowed only by name is refused, because QUIC hides the server name from
//     inspection; clients fall back to TCP, where it is checked.
//   - Record types the filter forgot: FilterQuery refuses every type (TXT, MX, SRV,
//     HTTPS, ANY, PTR ...) for a name not allowed, with NXDOMAIN, so DNS itself is no
//     channel to blocked names.
//   - A shared address (CDN, virtual hosting): an allowed name opening its address must
//     not open every site on it. On TCP 443 the TLS ClientHello's SNI, and on TCP 80 the
//     HTTP request's host, must be an allowed name for that port (Decision.ReadPrefix);
//     other bytes on those ports are refused. ClientHellos carrying encrypted
//     ClientHello (ECH, including Chrome's GREASE form) are refused: the real name is
//     hidden. Ambiguous HTTP (two Host headers, Host disagreeing with an absolute URI,
//     folded lines) is refused so the server cannot read another host than we did; an
//     absolute-URI request to a proxy is judged by the host it names. On port 80 every
//     request of a keep-alive connection is checked, not only the first
//     (Decision.GuardHTTPRequests follows Content-Length and chunked framing, and
//     refuses what it cannot follow: upgrades, CONNECT, smuggling-shaped framing).
//   - Stale or rebound names: a learned binding lasts the answer's TTL, at least
//     MinLearnTTL (gvisor-tap-vsock answers with TTL 0 and clients connect right after)
//     and at most MaxLearnTTL (CapTTLs keeps guest caches within it); expired bindings
//     are pruned and the table is bounded. A name that resolves to the host itself
//     (DNS rebinding to 127.0.0.1 or a host interface) does not open it.
//   - Ping: an ICMP echo request beyond the gateway is a flow too, judged by DecideEcho
//     before the host sends it; having no port, it needs an entry that opens the whole
//     address (no port), since echoed payloads are a channel like any other.
//   - The host machine: loopback, unspecified and the host's own interface addresses
//     (IsHostAddress), and the hostLoopback NAT address (MarkHostAddress), are reachable
//     only through an entry naming that exact address, never through a broad CIDR such
//     as 0.0.0.0/0 or a learned name.
//
// What remains outside this package's reach: inside an allowed TLS connection the guest
// may ask the server for another site (domain fronting: an HTTP Host, or an HTTP/2
// :authority, that differs from the SNI). That needs the server's cooperation in
// serving a name it was not reached by; the allowed name's operator decides that.
//
// # Decisions and cost
//
// Rules are immutable after ParseAllowNet; learned bindings sit behind an RWMutex; the
// denial counter and hook are atomic. Decide is a few map lookups and a scan of the
// IP/CIDR entries, paid once per new connection or flow, never per packet. Every
// denial is counted (Denied, the `policy.denied` stat) and passed to the OnDeny hook
// with destination and reason for the debug log.
package policy
