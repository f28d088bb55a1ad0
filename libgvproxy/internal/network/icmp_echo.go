package network

import (
	"errors"
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
)

// maxEchoesInFlight bounds the host sockets the guest's pings hold at once; a request
// beyond it is dropped (a guest flooding pings gets fewer replies, the host keeps its
// descriptors).
const maxEchoesInFlight = 64

// echoTTL is the TTL of the replies the gateway writes for the host's.
const echoTTL = 64

// echoForwarder answers the guest's pings to the host's network with the host's
// replies: each echo request echoDivert takes out of the stack is judged like a new
// flow (destination guard, then allowNet), sent from the host, and the host's reply is
// written to the guest as coming from the address it pinged. A refused request gets no
// reply and is reported as a denied `connection` (protocol icmp); an allowed one is an
// open and a close with the bytes echoed.
type echoForwarder struct {
	host     *hostPinger
	inFlight chan struct{}
}

func newEchoForwarder(log Logger) *echoForwarder {
	return &echoForwarder{host: newHostPinger(log), inFlight: make(chan struct{}, maxEchoesInFlight)}
}

// forwardEcho handles one diverted request; it runs on the guest's reader goroutine,
// so everything after the decision happens on a goroutine of its own.
func (n *Network) forwardEcho(req echoRequest) {
	target, decision, ok := n.admit(ICMP, netip.AddrPortFrom(req.src, 0), netip.AddrPortFrom(req.dst, 0))
	if !ok {
		return
	}
	select {
	case n.echo.inFlight <- struct{}{}:
	default:
		n.log.Debugf("icmp echo: dropping a ping to %s: %d already in flight", req.dst, maxEchoesInFlight)
		return
	}
	if !n.group.Go(func() {
		defer func() { <-n.echo.inFlight }()
		n.relayEcho(req, target, decision)
	}) {
		<-n.echo.inFlight
	}
}

// relayEcho sends req to target from the host and writes the reply to the guest. The
// ping opens (its `open` event) once the host sent it; a request the host cannot send
// (no socket permitted, an unreachable network) is a failed connect.
func (n *Network) relayEcho(req echoRequest, target netip.Addr, d policy.Decision) {
	flow := n.audit.Attempt(natConn(ICMP, netip.AddrPortFrom(req.src, 0), d, ""))
	e, err := n.echo.host.open(target)
	if err != nil {
		if !errors.Is(err, errNoEchoSocket) { // that one is logged once, by choose
			n.log.Debugf("icmp echo to %s: %v", req.dst, err)
		}
		n.connectFailed(flow, err)
		return
	}
	release, ok := n.group.Track(e)
	defer release()
	if !ok {
		_ = e.Close()
		return
	}
	defer e.Close()
	if err := e.send(req.seq, req.payload); err != nil {
		n.log.Debugf("icmp echo to %s: %v", req.dst, err)
		n.connectFailed(flow, err)
		return
	}
	flow.Opened()
	n.guests.flows.Add(1) // an opened ping is a flow the guest opened, as its open event says
	sent := uint64(len(req.payload))
	data, err := e.reply(req.seq, len(req.payload))
	if err != nil {
		n.log.Debugf("icmp echo to %s: %v", req.dst, err)
		flow.Close(sent, 0)
		return
	}
	// A setAllowNet while the request was out may have closed the destination.
	if rules := n.rules.Load(); rules != d.Rules() && !rules.DecideEcho(req.dst).Allow {
		flow.EndedBy(audit.PolicyChanged)
		flow.Close(sent, 0)
		return
	}
	if err := n.writeEchoReply(req, data); err != nil {
		n.log.Debugf("icmp echo reply to %s: %v", req.src, err)
		flow.Close(sent, 0)
		return
	}
	flow.Close(sent, uint64(len(data)))
}

// writeEchoReply writes an echo reply to the guest from the address it pinged, with
// the guest's identifier and sequence number and the host's reply data.
func (n *Network) writeEchoReply(req echoRequest, data []byte) error {
	msg := make([]byte, header.ICMPv4MinimumSize+len(data))
	h := header.ICMPv4(msg)
	h.SetType(header.ICMPv4EchoReply)
	h.SetIdent(req.ident)
	h.SetSequence(req.seq)
	copy(h.Payload(), data)
	h.SetChecksum(^checksum.Checksum(msg, 0))
	// Spoofing lets the gateway send from the pinged address.
	route, tcpErr := n.stack.FindRoute(nicID, addrOf(req.dst), addrOf(req.src), ipv4.ProtocolNumber, false)
	if tcpErr != nil {
		return fmt.Errorf("find route %s -> %s: %s", req.dst, req.src, tcpErr)
	}
	defer route.Release()
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: int(route.MaxHeaderLength()),
		Payload:            buffer.MakeWithData(msg),
	})
	defer pkt.DecRef()
	params := stack.NetworkHeaderParams{Protocol: header.ICMPv4ProtocolNumber, TTL: echoTTL}
	if tcpErr := route.WritePacket(params, pkt); tcpErr != nil {
		return fmt.Errorf("write: %s", tcpErr)
	}
	return nil
}
