package network

import (
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"bun-gvproxy/libgvproxy/internal/policy"
)

// tcpMaxInFlight bounds half-open connections the forwarder handles at once (SYNs beyond
// it are dropped and counted in ForwardMaxInFlightDrop); upstream's 10 drops bursts of
// parallel connects from a busy guest.
const tcpMaxInFlight = 256

// natTCP forwards the guest's outbound TCP connections to the host's network: for each
// SYN it dials the (translated) destination from the host and, only if that succeeds,
// completes the guest's handshake, so a refused connect is a reset for the guest.
// Connections the policy allows only after inspecting their first bytes take the
// other order (nat_tcp_inspect.go).
type natTCP struct {
	n *Network
}

func (n *Network) startNATTCP() {
	f := &natTCP{n: n}
	// rcvWnd 0: the stack's default receive buffer, auto-tuned (see tuneTCP).
	fwd := tcp.NewForwarder(n.stack, 0, tcpMaxInFlight, f.handle)
	n.stack.SetTransportProtocolHandler(tcp.ProtocolNumber, fwd.HandlePacket)
}

func (f *natTCP) handle(r *tcp.ForwarderRequest) {
	done, ok := f.n.group.Enter()
	if !ok {
		r.Complete(true)
		return
	}
	defer done()

	dst := destinationOf(r.ID())
	target, decision, allowed := f.n.admit(TCP, dst)
	if !allowed {
		r.Complete(true)
		return
	}
	hostAddr := netip.AddrPortFrom(target, dst.Port())
	if decision.Inspect != policy.InspectNone {
		f.inspectThenDial(r, hostAddr, decision)
		return
	}
	f.dialThenAccept(r, hostAddr)
}

// dialThenAccept dials the host first and completes the guest's handshake only if
// that worked, so a refused host port is a refused connect for the guest.
func (f *natTCP) dialThenAccept(r *tcp.ForwarderRequest, hostAddr netip.AddrPort) {
	hostConn, err := f.dial(hostAddr)
	if err != nil {
		f.n.log.Tracef("nat tcp: dial %s: %v", hostAddr, err)
		r.Complete(true)
		return
	}
	guestConn, _, err := acceptGuest(r)
	if err != nil {
		_ = hostConn.Close()
		f.n.log.Debugf("nat tcp: accept guest connection to %s: %v", hostAddr, err)
		return
	}
	f.n.spliceTracked(guestConn, hostConn)
}

func (f *natTCP) dial(hostAddr netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(f.n.group.Context(), "tcp", hostAddr.String())
}

// acceptGuest completes the guest's handshake and returns its connection and endpoint
// (the endpoint can reset the connection, which closing it cannot).
func acceptGuest(r *tcp.ForwarderRequest) (*gonet.TCPConn, tcpip.Endpoint, error) {
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	r.Complete(false)
	if tcpErr != nil {
		return nil, nil, &tcpipError{tcpErr}
	}
	return gonet.NewTCPConn(&wq, ep), ep, nil
}

// tcpipError carries a gVisor error as a Go error.
type tcpipError struct{ err tcpip.Error }

func (e *tcpipError) Error() string { return e.err.String() }

// destinationOf is the address and port a guest's packet is addressed to (the
// forwarder's "local" end: the gateway answers as every destination).
func destinationOf(id stack.TransportEndpointID) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(id.LocalAddress.As4()), id.LocalPort)
}

// admit applies the destination guard, then the policy, to a guest's new outbound flow
// to dst and returns the host address to dial with the policy's decision. The policy
// sees the destination as the guest named it (the host loopback address, not
// 127.0.0.1). Every refusal counts in policy.denied: the guard's here, the policy's
// through its OnDeny hook (watchDenials). Broadcast and multicast are local chatter
// (the DHCP server's own replies among them), never forwarded and not counted.
func (n *Network) admit(proto Transport, dst netip.AddrPort) (netip.Addr, policy.Decision, bool) {
	if n.guard.isBroadcastOrMulticast(dst.Addr()) {
		return netip.Addr{}, policy.Decision{}, false
	}
	target, reason := n.guard.resolve(dst.Addr())
	if reason != "" {
		n.policyDenied.Add(1)
		n.log.Debugf("egress denied: %s %s: %s", proto, dst, reason)
		return netip.Addr{}, policy.Decision{}, false
	}
	decision := n.policy.Decide(proto, dst)
	if !decision.Allow {
		return netip.Addr{}, decision, false
	}
	return target, decision, true
}

// spliceTracked splices a and b, closing both if the network shuts down meanwhile.
func (n *Network) spliceTracked(a, b net.Conn) {
	release, ok := n.trackPair(a, b)
	defer release()
	if ok {
		splice(a, b)
	}
}
