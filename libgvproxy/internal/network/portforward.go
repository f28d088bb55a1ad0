package network

import (
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// serveTCPForward accepts host connections (TCP or Unix) and splices each with a
// connection to the guest port dialed through the gateway's stack.
// Each connection is handled on a reused worker (workers.go), as NAT connections are.
func (n *Network) serveTCPForward(f *forward, ln net.Listener, guest tcpip.FullAddress) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if !n.stoppedByClose(err) {
				n.log.Errorf("port forward %s: accept: %v", ln.Addr(), err)
			}
			return
		}
		if !n.workers.run(func() { n.forwardTCPConn(f, conn, guest) }) {
			_ = conn.Close()
			return
		}
	}
}

// forwardTCPConn dials the guest port for one host connection and splices the two. The
// connection opens (its `open` event) only once the guest answered; a guest port that
// refuses is a failed connect (connectFailed) and the host connection is closed.
func (n *Network) forwardTCPConn(f *forward, hostConn net.Conn, guest tcpip.FullAddress) {
	flow := n.audit.Attempt(audit.Conn{Proto: "tcp", Via: audit.ViaForward, Source: hostEndpoint(hostConn, f),
		Destination: audit.AddrPort(netip.AddrPortFrom(n.cfg.GuestIP, guest.Port))})
	remove, ok := f.conns.Add(hostConn, flow)
	defer remove()
	if !ok {
		flow.EndedBy(audit.Unexposed)
		flow.Failed("the forward was removed before the guest was dialed")
		return
	}
	release, ok := n.group.Track(hostConn)
	if !ok {
		flow.Failed("the network closed before the guest was dialed")
		return
	}
	guestConn, err := gonet.DialContextTCP(n.group.Context(), n.stack, guest, ipv4.ProtocolNumber)
	release()
	if err != nil {
		n.log.Debugf("port forward %s -> guest port %d: %v", hostConn.LocalAddr(), guest.Port, err)
		_ = hostConn.Close()
		n.connectFailed(flow, err)
		return
	}
	flow.Opened()
	toGuest, fromGuest := n.spliceTracked(hostConn, guestConn)
	flow.Close(fromGuest, toGuest)
}

// hostEndpoint is the source of a forwarded connection: the client's address, or the
// Unix listener's path.
func hostEndpoint(conn net.Conn, f *forward) audit.Endpoint {
	if f.info.HostPath != "" {
		return audit.Path(f.info.HostPath)
	}
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		return audit.AddrPort(ap)
	}
	return audit.Endpoint{}
}
