package network

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"bun-gvproxy/framing"
	"bun-gvproxy/libgvproxy/internal/audit"
)

// Guest socket buffer sizes. Large buffers let a burst of full-MTU frames (up to 64 KiB
// each at MTU 65520) queue without stalling the link's writer.
const (
	guestSendBuffer    = 4 << 20
	guestReceiveBuffer = 4 << 20
)

// guestStats counts guest connections for stats.guest and guest().
type guestStats struct {
	active atomic.Int64
	total  atomic.Uint64
	since  atomic.Int64  // unix nanoseconds the current guest attached
	flows  atomic.Uint64 // NAT connections, UDP flows and pings the guest opened (one per NAT open event)
	leased atomic.Bool   // the guest has sent from its leased address
}

// attached records a guest connecting and reports it to `guest` listeners.
func (n *Network) attached(peer string) {
	n.guests.total.Add(1)
	if n.guests.active.Add(1) == 1 {
		n.guests.since.Store(time.Now().UnixNano())
		n.guests.leased.Store(false)
	}
	n.audit.Guest(audit.GuestConnected, peer, "", n.guests.total.Load())
}

// detached records a guest leaving, with why.
func (n *Network) detached(peer, reason string) {
	n.guests.active.Add(-1)
	n.audit.Guest(audit.GuestDisconnected, peer, reason, n.guests.total.Load())
}

// serveStreamGuests accepts QEMU-protocol guests in a loop: a guest that disconnects and
// reconnects (a VM reboot) is served again by the same network.
func (n *Network) serveStreamGuests(ln *net.UnixListener) {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if !n.stoppedByClose(err) {
				n.log.Errorf("guest socket %s: accept: %v", n.socket.Path, err)
			}
			return
		}
		setBuffers(conn)
		if !n.group.Go(func() { n.serveGuest(conn) }) {
			_ = conn.Close()
			return
		}
	}
}

// serveGuest attaches one QEMU-protocol guest connection to the link until it
// disconnects, breaks the protocol or a newer connection replaces it.
func (n *Network) serveGuest(conn net.Conn) {
	release, ok := n.group.Track(conn)
	defer release()
	if !ok {
		return
	}
	n.attached("")
	n.log.Infof("guest connected to %s", n.socket.Path)
	err := n.link.Serve(conn, framing.Qemu)
	reason := "closed"
	if err != nil {
		reason = err.Error()
	}
	n.detached("", reason)
	n.log.Infof("guest disconnected from %s: %v", n.socket.Path, err)
}

func setBuffers(conn interface {
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}) {
	_ = conn.SetReadBuffer(guestReceiveBuffer)
	_ = conn.SetWriteBuffer(guestSendBuffer)
}

// datagramGuest adapts the bound SOCK_DGRAM socket to a connected-looking socket:
// it reads frames from any peer and sends to the peer that sent last, so a rebooted VM
// (new client socket address) is served without a new listener.
type datagramGuest struct {
	*net.UnixConn
	n    *Network
	mu   sync.Mutex
	peer *net.UnixAddr
}

func (g *datagramGuest) Read(b []byte) (int, error) {
	for {
		nr, from, err := g.UnixConn.ReadFromUnix(b)
		if err != nil {
			return 0, err
		}
		if from == nil || from.Name == "" {
			continue // an unbound client cannot be answered
		}
		g.notePeer(from)
		if framing.IsVfkitHandshake(b[:nr]) {
			continue
		}
		return nr, nil
	}
}

func (g *datagramGuest) notePeer(from *net.UnixAddr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.peer != nil && g.peer.Name == from.Name {
		return
	}
	if g.peer != nil {
		g.n.detached(g.peer.Name, "replaced by "+from.Name)
	}
	g.peer = from
	g.n.attached(from.Name)
	g.n.log.Infof("guest %s connected to %s", from.Name, g.n.socket.Path)
}

func (g *datagramGuest) Write(b []byte) (int, error) {
	g.mu.Lock()
	peer := g.peer
	g.mu.Unlock()
	if peer == nil {
		return len(b), nil // nobody to send to yet
	}
	// Never report a write error: the link would detach the guest. Datagrams are
	// lossy anyway; a VM that went away (ECONNREFUSED, ENOENT) is served again when it
	// sends from its new address.
	if _, err := g.UnixConn.WriteToUnix(b, peer); err != nil && !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
		g.n.log.Debugf("guest socket %s: send to %s: %v", g.n.socket.Path, peer.Name, err)
	}
	return len(b), nil
}

// Close is a no-op: the bound socket belongs to the network, which closes it on Close.
func (g *datagramGuest) Close() error { return nil }

// serveDatagramGuests attaches the vfkit-protocol socket to the link until the network
// closes the socket.
func (n *Network) serveDatagramGuests(conn *net.UnixConn) {
	setBuffers(conn)
	g := &datagramGuest{UnixConn: conn, n: n}
	if err := n.link.Serve(g, framing.Vfkit); err != nil && !n.group.Closing() {
		n.log.Errorf("guest socket %s: %v", n.socket.Path, err)
	}
}
