package network

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
)

// inspectTimeout bounds how long a guest may take to send the first bytes the policy
// must see (a TLS ClientHello, an HTTP request head): a silent guest cannot hold a
// half-made connection open.
const inspectTimeout = 10 * time.Second

// inspectThenDial serves a connection the policy allows only if its first bytes name
// an allowed host (the TLS SNI on 443, the HTTP host on 80: the address was opened by
// a name and may serve other sites too). The guest's handshake is completed first so
// it sends those bytes; the host is dialed only after they passed, and gets them first.
// On port 80 every later request of the connection is checked as well. A refusal, a
// silent guest or a failed dial resets the guest's connection: unlike a plain NAT
// connection, a refused host port shows as a reset after connect (also when the
// connection is then intercepted: the dial comes before the guest's TLS is accepted).
func (f *natTCP) inspectThenDial(r *tcp.ForwarderRequest, src, hostAddr netip.AddrPort, d policy.Decision) {
	guestConn, ep, err := acceptGuest(r)
	if err != nil {
		f.n.log.Debugf("nat tcp: accept guest connection to %s: %v", hostAddr, err)
		return
	}
	release, ok := f.n.group.Track(guestConn)
	defer release()
	if !ok {
		resetGuest(guestConn, ep)
		return
	}
	_ = guestConn.SetReadDeadline(time.Now().Add(inspectTimeout))
	prefix, err := d.ReadPrefix(guestConn)
	if err != nil {
		if denial, denied := policy.AsDenied(err); denied {
			denial.Source = audit.AddrPort(src)
			f.n.audit.Deny(denial)
		} else {
			f.n.log.Debugf("nat tcp: %s inspection of %s: %v", d.Inspect, hostAddr, err)
		}
		resetGuest(guestConn, ep)
		return
	}
	_ = guestConn.SetReadDeadline(time.Time{})
	attempt := f.n.audit.Attempt(natConn(TCP, src, d, d.ServerName(prefix))) // timed from before the dial
	hostConn, err := f.dial(hostAddr)
	if err != nil {
		f.n.log.Tracef("nat tcp: dial %s: %v", hostAddr, err)
		resetGuest(guestConn, ep)
		f.n.connectFailed(attempt, err)
		return
	}
	// Dialed before interception too: a refused host is a reset before the guest's TLS is
	// accepted and a connect-failed close, as on every other path, not a 502 on a flow
	// that opened.
	if sni := d.ServerName(prefix); d.Inspect == policy.InspectTLS && f.n.secrets.Load().Intercepts(sni) {
		releaseHost, ok := f.n.group.Track(hostConn)
		defer releaseHost()
		if !ok {
			resetGuest(guestConn, ep)
			return
		}
		f.intercept(attempt, guestConn, ep, src, hostAddr, d, prefix, sni, hostConn)
		return
	}
	// The stream from the guest starts with the bytes already read; the HTTP guard
	// (a no-op for TLS) must see it from its first byte.
	fromGuest := d.GuardHTTPRequests(io.MultiReader(bytes.NewReader(prefix), guestConn))
	if f.n.secretsFor(d.Destination()) {
		releaseHost, ok := f.n.group.Track(hostConn)
		defer releaseHost()
		if !ok {
			resetGuest(guestConn, ep)
			return
		}
		f.spliceGuarded(attempt, guestConn, ep, src, d, d.ServerName(prefix), fromGuest, hostConn)
		return
	}
	live := f.n.openNATFlow(attempt, TCP, d, d.ServerName(prefix), func() { resetGuest(guestConn, ep); resetHost(hostConn) })
	defer live.end()
	var denial error
	live.fromGuest, live.toGuest, denial = f.n.spliceInspected(guestConn, ep, fromGuest, hostConn)
	if d, denied := policy.AsDenied(denial); denied {
		d.Source = audit.AddrPort(src)
		f.n.audit.Deny(d)
		live.flow.EndedBy(d.Reason)
	}
}

// resetGuest aborts the guest's connection with a RST (closing it would send a FIN,
// which a client may read as an empty answer) and releases it.
func resetGuest(guestConn net.Conn, ep tcpip.Endpoint) {
	ep.Abort()
	_ = guestConn.Close()
}

// spliceInspected is splice for inspected connections: guest->host bytes come from
// fromGuest (the guest connection behind the policy's checks). When those checks
// refuse a later request, both sides are reset instead of closed, so neither end reads
// a truncated exchange as complete, and the denial is returned for the caller to report.
func (n *Network) spliceInspected(guestConn net.Conn, ep tcpip.Endpoint, fromGuest io.Reader, hostConn net.Conn) (fromGuestBytes, toGuestBytes uint64, denial error) {
	release, ok := n.group.Track(hostConn)
	defer release()
	if !ok {
		resetGuest(guestConn, ep)
		return 0, 0, nil
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		toGuestBytes = pipe(guestConn, hostConn)
	}()
	fromGuestBytes, err := pipeFrom(hostConn, fromGuest)
	if err != nil {
		if policy.IsDenied(err) {
			denial = err
			// The guest first, so it sees the reset rather than the FIN the other
			// direction would send once the host side is gone.
			resetGuest(guestConn, ep)
			resetHost(hostConn)
		} else {
			_ = hostConn.Close()
		}
	}
	wg.Wait()
	_ = guestConn.Close()
	_ = hostConn.Close()
	return fromGuestBytes, toGuestBytes, denial
}

// resetHost closes a host TCP connection with a RST (linger 0).
func resetHost(hostConn net.Conn) {
	if tc, ok := hostConn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = hostConn.Close()
}
