package network

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// serveUDPForward relays datagrams from host clients to the guest port. Each client
// (source addr:port) gets its own gVisor UDP socket so the guest's replies find their
// way back; a client idle for udpIdleTimeout is forgotten.
func (n *Network) serveUDPForward(host *net.UDPConn, guest tcpip.FullAddress) {
	var mu sync.Mutex
	clients := make(map[netip.AddrPort]*gonet.UDPConn)
	buf := make([]byte, udpBufferSize)
	for {
		nr, from, err := host.ReadFromUDPAddrPort(buf)
		if err != nil {
			if isTransientUDP(err) {
				continue
			}
			if !n.stoppedByClose(err) {
				n.log.Errorf("port forward %s: read: %v", host.LocalAddr(), err)
			}
			return
		}
		mu.Lock()
		conn, ok := clients[from]
		if !ok {
			conn, err = gonet.DialUDP(n.stack, nil, &guest, ipv4.ProtocolNumber)
			if err != nil {
				mu.Unlock()
				n.log.Debugf("port forward %s -> guest port %d: %v", host.LocalAddr(), guest.Port, err)
				continue
			}
			clients[from] = conn
			forget := func() {
				mu.Lock()
				delete(clients, from)
				mu.Unlock()
			}
			if !n.group.Go(func() { n.relayUDPReplies(conn, host, from, forget) }) {
				mu.Unlock()
				_ = conn.Close()
				return
			}
		}
		mu.Unlock()
		_ = conn.SetReadDeadline(time.Now().Add(udpIdleTimeout))
		if _, err := conn.Write(buf[:nr]); err != nil {
			n.log.Debugf("port forward %s -> guest port %d: write: %v", host.LocalAddr(), guest.Port, err)
		}
	}
}

// relayUDPReplies sends the guest's replies on conn back to the host client until the
// client has been idle for udpIdleTimeout (the deadline is pushed by each datagram the
// client sends) or the network shuts down.
func (n *Network) relayUDPReplies(conn *gonet.UDPConn, host *net.UDPConn, client netip.AddrPort, forget func()) {
	release, ok := n.group.Track(conn)
	defer release()
	defer forget()
	defer conn.Close()
	if !ok {
		return
	}
	buf := make([]byte, udpBufferSize)
	for {
		nr, err := conn.Read(buf)
		if err != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(udpIdleTimeout))
		if _, err := host.WriteToUDPAddrPort(buf[:nr], client); err != nil && !isTransientUDP(err) {
			return
		}
	}
}
