package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"testing"

	"golang.org/x/net/icmp"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gicmp "gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/network"
	"bun-gvproxy/libgvproxy/internal/testguest"
)

// guestPinger is the guest's ping socket: an ICMP echo endpoint of the guest stack.
// The guest's stack stamps its identifier on each request and delivers only the
// replies carrying it, as a Linux ping socket does.
type guestPinger struct {
	t    *testing.T
	ep   tcpip.Endpoint
	wq   waiter.Queue
	read chan struct{}
}

func (g *guestStack) pinger(t *testing.T) *guestPinger {
	t.Helper()
	p := &guestPinger{t: t}
	ep, err := g.Stack.NewEndpoint(gicmp.ProtocolNumber4, ipv4.ProtocolNumber, &p.wq)
	if err != nil {
		t.Fatalf("guest ping endpoint: %s", err)
	}
	p.ep = ep
	entry, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	p.wq.EventRegister(&entry)
	p.read = ch
	t.Cleanup(func() {
		p.wq.EventUnregister(&entry)
		ep.Close()
	})
	return p
}

// send sends one echo request with sequence number seq and payload to dst.
func (p *guestPinger) send(dst netip.Addr, seq uint16, payload []byte) {
	p.t.Helper()
	msg := make([]byte, header.ICMPv4MinimumSize+len(payload))
	h := header.ICMPv4(msg)
	h.SetType(header.ICMPv4Echo)
	h.SetSequence(seq)
	copy(msg[header.ICMPv4MinimumSize:], payload)
	to := tcpip.FullAddress{NIC: testguest.NIC, Addr: tcpip.AddrFrom4(dst.As4())}
	if _, err := p.ep.Write(bytes.NewReader(msg), tcpip.WriteOptions{To: &to}); err != nil {
		p.t.Fatalf("guest ping %s: %s", dst, err)
	}
}

// nextReply waits for the next echo reply and returns its source, sequence number and
// payload; the timeout only keeps a broken build from hanging the run.
func (p *guestPinger) nextReply(ctx context.Context) (netip.Addr, uint16, []byte) {
	p.t.Helper()
	for {
		var buf bytes.Buffer
		res, err := p.ep.Read(&buf, tcpip.ReadOptions{NeedRemoteAddr: true})
		if _, wouldBlock := err.(*tcpip.ErrWouldBlock); wouldBlock {
			select {
			case <-p.read:
				continue
			case <-ctx.Done():
				p.t.Fatalf("no echo reply: %v", ctx.Err())
			}
		}
		if err != nil {
			p.t.Fatalf("guest ping read: %s", err)
		}
		h := header.ICMPv4(buf.Bytes())
		if len(h) < header.ICMPv4MinimumSize || h.Type() != header.ICMPv4EchoReply {
			continue
		}
		from := netip.AddrFrom4(res.RemoteAddr.Addr.As4())
		return from, h.Sequence(), append([]byte(nil), h.Payload()...)
	}
}

// hostPingsAllowed reports whether this host lets the process send echo requests, by
// ping socket (net.ipv4.ping_group_range) or raw socket (CAP_NET_RAW).
func hostPingsAllowed() bool {
	for _, network := range []string{"udp4", "ip4:icmp"} {
		if c, err := icmp.ListenPacket(network, "0.0.0.0"); err == nil {
			_ = c.Close()
			return true
		}
	}
	return false
}

// pingTest is a network made with allowNet whose connection events are subscribed, and
// a guest stack on it with its ping socket.
type pingTest struct {
	id   int64
	net  *network.Network
	ping *guestPinger
	ctx  context.Context // bounds every wait by testTimeout
}

func startPingTest(t *testing.T, allowNet any) pingTest {
	t.Helper()
	path := filepath.Join(testDir(t), "net.sock")
	res := mustCreate(t, configJSON(t, path, map[string]any{"allowNet": allowNet}))
	n, _ := instances.Get(int64(res.ID))
	n.Subscribe(audit.KindConnection)
	g := startGuestStack(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return pingTest{id: int64(res.ID), net: n, ping: g.pinger(t), ctx: ctx}
}

var (
	gatewayIP      = netip.MustParseAddr("192.168.127.1")
	hostLoopbackIP = netip.MustParseAddr("192.168.127.254")
)

func TestGuestPingToTheGatewayIsAnsweredByTheGateway(t *testing.T) {
	pt := startPingTest(t, "none")
	p, ctx := pt.ping, pt.ctx
	p.send(gatewayIP, 7, []byte("gateway"))
	from, seq, payload := p.nextReply(ctx)
	if from != gatewayIP || seq != 7 || string(payload) != "gateway" {
		t.Fatalf("reply from %s seq %d %q; want the gateway's to seq 7 %q", from, seq, payload, "gateway")
	}
}

func TestGuestPingReachesTheHostThroughTheHostLoopbackAddress(t *testing.T) {
	if !hostPingsAllowed() {
		t.Skip("this host allows neither ping sockets (net.ipv4.ping_group_range) nor raw ICMP sockets")
	}
	pt := startPingTest(t, []string{"192.168.127.254"})
	n, p, ctx := pt.net, pt.ping, pt.ctx
	payload := make([]byte, 1000) // more than a header's worth, less than the MTU
	for i := range payload {
		payload[i] = byte(i)
	}
	for seq := uint16(1); seq <= 3; seq++ {
		binary.BigEndian.PutUint16(payload, seq)
		p.send(hostLoopbackIP, seq, payload)
		from, got, echoed := p.nextReply(ctx)
		if from != hostLoopbackIP || got != seq || !bytes.Equal(echoed, payload) {
			t.Fatalf("reply from %s seq %d (%d bytes); want %s seq %d echoing %d bytes", from, got, len(echoed), hostLoopbackIP, seq, len(payload))
		}
	}
	opens := 0
	for _, e := range connectionEvents(t, n.DrainEvents(0), 3) {
		if e.Phase == "denied" {
			t.Fatalf("an allowed ping was reported denied: %+v", e)
		}
		if e.Protocol != "icmp" || e.Destination == nil || e.Destination.Addr.Addr() != hostLoopbackIP {
			t.Fatalf("event %+v, want icmp to %s", e, hostLoopbackIP)
		}
		if e.Phase == "open" {
			opens++
		}
	}
	if opens == 0 {
		t.Fatal("no open event for the guest's pings")
	}
}

func TestGuestPingToADestinationOutsideAllowNetIsNotAnsweredAndReported(t *testing.T) {
	pt := startPingTest(t, []string{"192.168.127.254", "198.51.100.0/24:443"})
	n, p, ctx := pt.net, pt.ping, pt.ctx
	denied := []struct {
		dst    netip.Addr
		reason audit.Reason
	}{
		{netip.MustParseAddr("192.0.2.1"), audit.IPNotAllowed},       // no entry covers it
		{netip.MustParseAddr("198.51.100.9"), audit.PortNotAllowed},  // an entry opens one port only
		{netip.MustParseAddr("192.168.127.77"), audit.VirtualSubnet}, // nobody there
	}
	for i, d := range denied {
		p.send(d.dst, uint16(i+1), []byte("denied"))
	}
	// The gateway answers its own pings, and the network reads the guest's frames in
	// order: once this reply is here, the denied requests were judged before it.
	const last = 100
	p.send(gatewayIP, last, []byte("gateway"))
	for {
		from, seq, _ := p.nextReply(ctx)
		if seq == last {
			break
		}
		t.Fatalf("a denied ping was answered: reply from %s seq %d", from, seq)
	}
	events := connectionEvents(t, n.DrainEvents(0), len(denied))
	for i, d := range denied {
		e := events[i]
		if e.Phase != "denied" || e.Protocol != "icmp" || e.Reason != d.reason || e.Destination == nil || e.Destination.Addr.Addr() != d.dst {
			t.Fatalf("event %d = %+v; want icmp to %s denied with %s", i, e, d.dst, d.reason)
		}
	}
	s, _ := instanceStats(pt.id)
	if s.Policy.Denied != uint64(len(denied)) {
		t.Fatalf("policy.denied = %d, want %d", s.Policy.Denied, len(denied))
	}
}

// connectionEvents returns the connection events among events, failing unless there
// are at least want of them.
func connectionEvents(t *testing.T, events []any, want int) []*audit.ConnectionEvent {
	t.Helper()
	var out []*audit.ConnectionEvent
	for _, e := range events {
		if c, ok := e.(*audit.ConnectionEvent); ok {
			out = append(out, c)
		}
	}
	if len(out) < want {
		t.Fatalf("%d connection events %+v, want at least %d", len(out), out, want)
	}
	return out
}
