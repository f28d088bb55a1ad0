package network

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"bun-gvproxy/libgvproxy/internal/audit"
)

// serveUDPForward relays datagrams from host clients to the guest port. Each client
// (source addr:port) gets its own gVisor UDP socket so the guest's replies find their
// way back; a client idle for udpIdleTimeout is forgotten.
func (n *Network) serveUDPForward(f *forward, host *net.UDPConn, guest tcpip.FullAddress) {
	var mu sync.Mutex
	clients := make(map[netip.AddrPort]*udpClient)
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
		client, ok := clients[from]
		if !ok {
			conn, err := gonet.DialUDP(n.stack, nil, &guest, ipv4.ProtocolNumber)
			if err != nil {
				mu.Unlock()
				n.log.Debugf("port forward %s -> guest port %d: %v", host.LocalAddr(), guest.Port, err)
				continue
			}
			client = &udpClient{conn: conn, flow: n.audit.Open(audit.Conn{Proto: "udp", Via: audit.ViaForward,
				Source: audit.AddrPort(from), Destination: audit.AddrPort(netip.AddrPortFrom(n.cfg.GuestIP, guest.Port))})}
			clients[from] = client
			forget := func() {
				mu.Lock()
				delete(clients, from)
				mu.Unlock()
			}
			if !n.group.Go(func() { n.relayUDPReplies(f, client, host, from, forget) }) {
				mu.Unlock()
				_ = conn.Close()
				return
			}
		}
		mu.Unlock()
		_ = client.conn.SetReadDeadline(time.Now().Add(udpIdleTimeout))
		if _, err := client.conn.Write(buf[:nr]); err != nil {
			n.log.Debugf("port forward %s -> guest port %d: write: %v", host.LocalAddr(), guest.Port, err)
		} else {
			client.toGuest.Add(uint64(nr))
		}
	}
}

// udpClient is one host client of a UDP forward: its socket to the guest and its flow.
type udpClient struct {
	conn               *gonet.UDPConn
	flow               *audit.Flow
	fromGuest, toGuest atomic.Uint64
}

// relayUDPReplies sends the guest's replies on conn back to the host client until the
// client has been idle for udpIdleTimeout (the deadline is pushed by each datagram the
// client sends) or the network shuts down.
func (n *Network) relayUDPReplies(f *forward, c *udpClient, host *net.UDPConn, client netip.AddrPort, forget func()) {
	conn := c.conn
	defer func() { c.flow.Close(c.fromGuest.Load(), c.toGuest.Load()) }()
	remove, ok := f.conns.Add(conn, c.flow)
	defer remove()
	if !ok {
		forget()
		return
	}
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
		c.fromGuest.Add(uint64(nr))
	}
}
