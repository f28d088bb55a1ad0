package network

import (
	"net"
	"net/netip"
	"strconv"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// tcpMaxInFlight bounds half-open connections the forwarder handles at once (SYNs beyond
// it are dropped and counted in ForwardMaxInFlightDrop); upstream's 10 drops bursts of
// parallel connects from a busy guest.
const tcpMaxInFlight = 256

// natTCP forwards the guest's outbound TCP connections to the host's network: for each
// SYN it dials the (translated) destination from the host and, only if that succeeds,
// completes the guest's handshake, so a refused connect is a reset for the guest.
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

	id := r.ID()
	dst, allowed := f.n.admit(TCP, id.LocalAddress, id.LocalPort)
	if !allowed {
		r.Complete(true)
		return
	}
	var d net.Dialer
	hostConn, err := d.DialContext(f.n.group.Context(), "tcp", net.JoinHostPort(dst.String(), strconv.Itoa(int(id.LocalPort))))
	if err != nil {
		f.n.log.Tracef("nat tcp: dial %s:%d: %v", dst, id.LocalPort, err)
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	r.Complete(false)
	if tcpErr != nil {
		_ = hostConn.Close()
		f.n.log.Debugf("nat tcp: accept guest connection to %s:%d: %s", dst, id.LocalPort, tcpErr)
		return
	}
	guestConn := gonet.NewTCPConn(&wq, ep)
	f.n.spliceTracked(guestConn, hostConn)
}

// admit applies the destination guard, then the policy, to a guest's outbound flow and
// returns the host address to dial. The policy sees the destination as the guest named
// it (the host loopback address, not 127.0.0.1). Every refusal counts in policy.denied.
func (n *Network) admit(proto Transport, local tcpip.Address, port uint16) (netip.Addr, bool) {
	dst := netip.AddrFrom4(local.As4())
	if n.guard.isBroadcastOrMulticast(dst) {
		return netip.Addr{}, false
	}
	target, reason := n.guard.resolve(dst)
	if reason == "" {
		if ok, why := n.policy.Allow(proto, dst, port); !ok {
			reason = why
		}
	}
	if reason != "" {
		n.policyDenied.Add(1)
		n.log.Debugf("egress %s to %s:%d denied: %s", proto, dst, port, reason)
		return netip.Addr{}, false
	}
	return target, true
}

// spliceTracked splices a and b, closing both if the network shuts down meanwhile.
func (n *Network) spliceTracked(a, b net.Conn) {
	releaseA, okA := n.group.Track(a)
	releaseB, okB := n.group.Track(b)
	defer releaseA()
	defer releaseB()
	if !okA || !okB {
		_ = a.Close()
		_ = b.Close()
		return
	}
	splice(a, b)
}
