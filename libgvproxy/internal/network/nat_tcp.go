package network

import (
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"bun-gvproxy/libgvproxy/internal/audit"
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
// other order (nat_tcp_inspect.go). Connections to a host socket (hostSockets) go to
// that Unix socket instead (hostsocket.go).
type natTCP struct {
	n *Network
}

func (n *Network) startNATTCP() {
	f := &natTCP{n: n}
	// rcvWnd 0: the stack's default receive buffer, auto-tuned (see tuneTCP).
	fwd := tcp.NewForwarder(n.stack, 0, tcpMaxInFlight, f.handle)
	n.stack.SetTransportProtocolHandler(tcp.ProtocolNumber, fwd.HandlePacket)
}

// handle moves each request off the goroutine gVisor starts for it onto a reused
// worker (workers.go).
func (f *natTCP) handle(r *tcp.ForwarderRequest) {
	if !f.n.workers.run(func() { f.serve(r) }) {
		r.Complete(true)
	}
}

func (f *natTCP) serve(r *tcp.ForwarderRequest) {
	done, ok := f.n.group.Enter()
	if !ok {
		r.Complete(true)
		return
	}
	defer done()

	src, dst := sourceOf(r.ID()), destinationOf(r.ID())
	if hs, ok := f.n.hostSocketFor(dst); ok {
		f.n.serveHostSocket(r, src, dst, hs)
		return
	}
	target, decision, allowed := f.n.admit(TCP, src, dst)
	if !allowed {
		r.Complete(true)
		return
	}
	hostAddr := netip.AddrPortFrom(target, dst.Port())
	if decision.Inspect != policy.InspectNone {
		f.inspectThenDial(r, src, hostAddr, decision)
		return
	}
	if f.n.secretsFor(dst) {
		f.secretsPath(r, src, hostAddr, decision)
		return
	}
	f.dialThenAccept(r, src, hostAddr, decision)
}

// dialThenAccept dials the host first and completes the guest's handshake only if
// that worked, so a refused host port is a refused connect for the guest.
func (f *natTCP) dialThenAccept(r *tcp.ForwarderRequest, src, hostAddr netip.AddrPort, d policy.Decision) {
	attempt := f.n.audit.Attempt(natConn(TCP, src, d, "")) // timed from before the dial
	hostConn, guestConn, ep, ok := f.dialAndAccept(r, attempt, hostAddr)
	if !ok {
		return
	}
	live := f.n.openNATFlow(attempt, TCP, d, "", func() { resetGuest(guestConn, ep); resetHost(hostConn) })
	defer live.end()
	live.fromGuest, live.toGuest = f.n.spliceTracked(guestConn, hostConn)
}

// dialAndAccept is Network.dialBeforeAccept for a NAT connection to hostAddr: a failure
// ends attempt as a failed connect. false: nothing is open.
func (f *natTCP) dialAndAccept(r *tcp.ForwarderRequest, attempt *audit.Flow, hostAddr netip.AddrPort) (net.Conn, *gonet.TCPConn, tcpip.Endpoint, bool) {
	return f.n.dialBeforeAccept(r, attempt, func() string { return "nat tcp " + hostAddr.String() }, f.n.log.Tracef, func() (net.Conn, error) { return f.dial(hostAddr) })
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

// sourceOf is the guest's address and port of a flow.
func sourceOf(id stack.TransportEndpointID) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(id.RemoteAddress.As4()), id.RemotePort)
}

// admit applies the destination guard, then the policy, to a guest's new outbound flow
// from src to dst and returns the host address to dial with the policy's decision. The
// policy sees the destination as the guest named it (the host loopback address, not
// 127.0.0.1). Every refusal is reported to the auditor, which counts it. Broadcast and
// multicast are local chatter (the DHCP server's own replies among them), never
// forwarded and not counted.
func (n *Network) admit(proto Transport, src, dst netip.AddrPort) (netip.Addr, policy.Decision, bool) {
	if n.guard.isBroadcastOrMulticast(dst.Addr()) {
		return netip.Addr{}, policy.Decision{}, false
	}
	if src.Addr() == n.cfg.GuestIP {
		n.guests.leased.Store(true)
	}
	target, code, detail := n.guard.resolve(dst.Addr())
	if code != "" {
		n.audit.Deny(audit.Denial{Reason: code, Proto: string(proto), Source: audit.AddrPort(src), Destination: audit.AddrPort(dst), Detail: detail})
		return netip.Addr{}, policy.Decision{}, false
	}
	decision := n.decide(proto, dst)
	if !decision.Allow {
		denial := decision.Denial()
		denial.Source = audit.AddrPort(src)
		n.audit.Deny(denial)
		return netip.Addr{}, decision, false
	}
	return target, decision, true
}

// natFlow is an admitted NAT flow from open to end: its audit record and its entry in
// the live set setAllowNet re-judges.
type natFlow struct {
	flow               *audit.Flow
	remove             func()
	fromGuest, toGuest uint64
}

// openNATFlow opens an admitted flow's record (its Attempt, begun before the dial, so the
// open's time and the close's duration count the dial as for every other path) and puts
// it in the live set with the function that cuts it. name is the server name inspection
// proved, if any: the record takes it, and setAllowNet judges the flow by it.
func (n *Network) openNATFlow(flow *audit.Flow, proto Transport, d policy.Decision, name string, cut func()) *natFlow {
	flow.Named(name)
	flow.Opened()
	n.guests.flows.Add(1)
	live := &liveFlow{proto: proto, dst: d.Destination(), name: name, flow: flow, cut: cut}
	remove := n.live.add(live)
	// A setAllowNet between the admission and here did not see this flow: judge it
	// again under the rules in force now that it is in the live set.
	if rules := n.rules.Load(); rules != d.Rules() && !live.stillAllowed(rules) {
		flow.EndedBy(audit.PolicyChanged)
		cut()
	}
	return &natFlow{flow: flow, remove: remove}
}

// natConn is the audit record of an admitted NAT flow from src: the destination the
// policy judged, named by name (what inspection proved) or else the first name that
// allowed it.
func natConn(proto Transport, src netip.AddrPort, d policy.Decision, name string) audit.Conn {
	if name == "" && len(d.Names) > 0 {
		name = d.Names[0]
	}
	return audit.Conn{Proto: string(proto), Via: audit.ViaNAT, Source: audit.AddrPort(src),
		Destination: audit.AddrPort(d.Destination()), Name: name}
}

// end leaves the live set and records the close with the bytes counted.
func (f *natFlow) end() {
	f.remove()
	f.flow.Close(f.fromGuest, f.toGuest)
}

// spliceTracked splices a and b, closing both if the network shuts down meanwhile, and
// returns the bytes copied each way.
func (n *Network) spliceTracked(a, b net.Conn) (aToB, bToA uint64) {
	release, ok := n.trackPair(a, b)
	defer release()
	if ok {
		return splice(a, b, n.workers.run)
	}
	return 0, 0
}
