package network

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"bun-gvproxy/libgvproxy/internal/policy"
)

// udpIdleTimeout ends a UDP flow after this long without a datagram in either direction
// (the conntrack timeout upstream uses).
const udpIdleTimeout = 90 * time.Second

// udpBufferSize holds the largest UDP payload.
const udpBufferSize = 65535

// udpReceiveBuffer is what each side of a flow may queue before datagrams are dropped
// (the host socket's is capped by net.core.rmem_max).
const udpReceiveBuffer = 4 << 20

// startNATUDP forwards the guest's outbound UDP flows: gVisor hands us the first
// datagram of each (guest addr, guest port, dst addr, dst port) flow; we answer with an
// endpoint connected to the guest and a host socket connected to the destination.
//
// The flow is admitted before the forwarder sees the datagram: a refused datagram is
// left unhandled, and the stack answers it with ICMP port unreachable (not for
// broadcast or multicast), so the guest's socket fails at once instead of waiting.
func (n *Network) startNATUDP() {
	n.stack.SetTransportProtocolHandler(udp.ProtocolNumber, func(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
		src, dst := sourceOf(id), destinationOf(id)
		target, decision, allowed := n.admit(UDP, src, dst)
		if !allowed {
			return false
		}
		hostAddr := netip.AddrPortFrom(target, dst.Port())
		// A forwarder is two words; one per flow carries the admitted address to the
		// handler, which runs synchronously inside HandlePacket.
		fwd := udp.NewForwarder(n.stack, func(r *udp.ForwarderRequest) { n.openUDPFlow(r, src, hostAddr, decision) })
		return fwd.HandlePacket(id, pkt)
	})
}

// openUDPFlow connects the guest's flow to hostAddr and starts relaying.
func (n *Network) openUDPFlow(r *udp.ForwarderRequest, src, hostAddr netip.AddrPort, d policy.Decision) {
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		n.log.Debugf("nat udp: endpoint for %s: %s", hostAddr, tcpErr)
		return
	}
	// Both receive buffers hold a burst that arrives while the relay is not scheduled
	// (tens of milliseconds on a busy host): a small one drops datagrams a fast flow
	// would otherwise deliver.
	ep.SocketOptions().SetReceiveBufferSize(udpReceiveBuffer, true)
	guestConn := gonet.NewUDPConn(&wq, ep)
	attempt := n.audit.Attempt(natConn(UDP, src, d, ""))
	// Dialing UDP never blocks, so it is safe on gVisor's packet-processing goroutine.
	hostConn, err := net.Dial("udp", hostAddr.String())
	if err != nil {
		n.log.Debugf("nat udp: dial %s: %v", hostAddr, err)
		_ = guestConn.Close()
		n.connectFailed(attempt, err)
		return
	}
	flow := &udpFlow{a: guestConn, b: hostConn}
	if uc, ok := hostConn.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(udpReceiveBuffer)
		flow.fromGuest = newUDPBatch(ep, uc)
	}
	if !n.group.Go(func() {
		live := n.openNATFlow(attempt, UDP, d, "", flow.close)
		defer live.end()
		n.runUDPFlow(flow)
		live.fromGuest, live.toGuest = flow.aToB.Load(), flow.bToA.Load()
	}) {
		flow.close()
	}
}

// udpFlow relays datagrams between two connected sockets until both are idle for
// udpIdleTimeout or the network shuts down.
type udpFlow struct {
	a, b       net.Conn
	lastSeen   atomic.Int64 // unix nanoseconds of the last datagram in either direction
	aToB, bToA atomic.Uint64
	fromGuest  *udpBatch // guest -> host batching over a's endpoint (nil: one write per datagram)
}

func (f *udpFlow) close() {
	_ = f.a.Close()
	_ = f.b.Close()
}

func (n *Network) runUDPFlow(f *udpFlow) {
	release, ok := n.trackPair(f.a, f.b)
	defer release()
	if !ok {
		return
	}
	f.lastSeen.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if f.fromGuest != nil {
			f.relayFromGuest(f.a, f.fromGuest)
		} else {
			f.relay(f.b, f.a, &f.aToB)
		}
	}()
	f.relay(f.a, f.b, &f.bToA)
	<-done
}

// relay copies datagrams src->dst. The read deadline is set once and moved only when
// it passes (to the idle timeout after the last datagram either way), not per
// datagram: re-arming a timer for every read costs more than the copy. So only a flow
// idle both ways expires.
func (f *udpFlow) relay(dst, src net.Conn, copied *atomic.Uint64) {
	defer f.close()
	buf := make([]byte, udpBufferSize)
	_ = src.SetReadDeadline(time.Unix(0, f.lastSeen.Load()).Add(udpIdleTimeout))
	for {
		nr, err := src.Read(buf)
		if err != nil {
			if f.keepReading(src, err) {
				continue
			}
			return
		}
		f.lastSeen.Store(time.Now().UnixNano())
		if _, err := dst.Write(buf[:nr]); err != nil && !isTransientUDP(err) {
			return
		}
		copied.Add(uint64(nr))
	}
}

// keepReading reports whether a read error leaves the flow open: a transient one, or
// the deadline passing while the other direction kept the flow alive (the deadline is
// then moved to the idle timeout after the last datagram).
func (f *udpFlow) keepReading(src net.Conn, err error) bool {
	if isTransientUDP(err) {
		return true
	}
	if last := time.Unix(0, f.lastSeen.Load()); isTimeout(err) && time.Since(last) < udpIdleTimeout {
		_ = src.SetReadDeadline(last.Add(udpIdleTimeout))
		return true
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// isTransientUDP reports errors that do not end a flow: an ICMP port unreachable for an
// earlier datagram surfaces as ECONNREFUSED on the next read or write of the socket.
func isTransientUDP(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
