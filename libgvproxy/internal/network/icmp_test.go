package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/config"
)

// recordingLog keeps the warnings a component logs.
type recordingLog struct {
	mu    sync.Mutex
	warns []string
}

func (l *recordingLog) Tracef(string, ...any) {}
func (l *recordingLog) Debugf(string, ...any) {}
func (l *recordingLog) Infof(string, ...any)  {}
func (l *recordingLog) Errorf(string, ...any) {}
func (l *recordingLog) Warnf(format string, args ...any) {
	l.mu.Lock()
	l.warns = append(l.warns, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// refusingPinger is a hostPinger whose every socket fails with refusal(n), n counting
// the sockets asked for from 1; tried lists the kinds asked for, log the warnings.
func refusingPinger(refusal func(n int) error) (h *hostPinger, log *recordingLog, tried *[]string) {
	log, tried = &recordingLog{}, new([]string)
	h = newHostPinger(log)
	h.listen = func(network, _ string) (*icmp.PacketConn, error) {
		*tried = append(*tried, network)
		return nil, refusal(len(*tried))
	}
	return h, log, tried
}

func TestHostPingerWithoutPermissionSaysWhyOnce(t *testing.T) {
	h, log, tried := refusingPinger(func(int) error { return syscall.EACCES })
	for range 3 {
		if _, err := h.open(netip.MustParseAddr("192.0.2.1")); !errors.Is(err, errNoEchoSocket) || !errors.Is(err, syscall.EACCES) {
			t.Fatalf("open = %v, want errNoEchoSocket wrapping EACCES", err)
		}
	}
	if strings.Join(*tried, ",") != "udp4,ip4:icmp" {
		t.Fatalf("sockets tried %v, want a ping socket, then a raw one, once", *tried)
	}
	if len(log.warns) != 1 || !strings.Contains(log.warns[0], "ping_group_range") || !strings.Contains(log.warns[0], "CAP_NET_RAW") ||
		strings.Contains(log.warns[0], "\n") {
		t.Fatalf("warnings %q, want one line naming ping_group_range and CAP_NET_RAW", log.warns)
	}
}

var (
	testGateway   = tcpip.AddrFrom4([4]byte{192, 168, 127, 1})
	testBroadcast = tcpip.AddrFrom4([4]byte{192, 168, 127, 255})
	testGuest     = tcpip.AddrFrom4([4]byte{192, 168, 127, 2})
)

// icmpPacket is an IPv4 packet from the guest to dst carrying an ICMP message of type
// typ; edit may change it before the packet is made.
func icmpPacket(dst tcpip.Address, typ header.ICMPv4Type, edit func(ip header.IPv4)) *stack.PacketBuffer {
	payload := []byte("ping payload")
	b := make([]byte, header.IPv4MinimumSize+header.ICMPv4MinimumSize+len(payload))
	ip := header.IPv4(b)
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(b)), TTL: 64, Protocol: uint8(header.ICMPv4ProtocolNumber), SrcAddr: testGuest, DstAddr: dst})
	ip.SetChecksum(^ip.CalculateChecksum())
	msg := header.ICMPv4(ip.Payload())
	msg.SetType(typ)
	msg.SetIdent(0x1234)
	msg.SetSequence(9)
	copy(msg.Payload(), payload)
	msg.SetChecksum(^checksum.Checksum(msg, 0))
	if edit != nil {
		edit(ip)
	}
	return stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)})
}

func TestEchoDivertTakesOnlyWholeEchoRequestsBeyondTheGateway(t *testing.T) {
	d := &echoDivert{gateway: testGateway, broadcast: testBroadcast}
	outside := tcpip.AddrFrom4([4]byte{192, 0, 2, 1})
	cases := []struct {
		name      string
		pkt       *stack.PacketBuffer
		divert    bool
		forwarded bool
	}{
		{"echo request to an outside address", icmpPacket(outside, header.ICMPv4Echo, nil), true, true},
		{"echo request to another subnet address", icmpPacket(tcpip.AddrFrom4([4]byte{192, 168, 127, 9}), header.ICMPv4Echo, nil), true, true},
		{"echo request to the gateway", icmpPacket(testGateway, header.ICMPv4Echo, nil), false, false},
		{"echo request to the subnet broadcast", icmpPacket(testBroadcast, header.ICMPv4Echo, nil), false, false},
		{"echo request to a multicast group", icmpPacket(tcpip.AddrFrom4([4]byte{224, 0, 0, 1}), header.ICMPv4Echo, nil), false, false},
		{"echo reply (the guest answering a ping)", icmpPacket(outside, header.ICMPv4EchoReply, nil), false, false},
		{"destination unreachable", icmpPacket(outside, header.ICMPv4DstUnreachable, nil), false, false},
		{"bad ICMP checksum", icmpPacket(outside, header.ICMPv4Echo, func(ip header.IPv4) {
			ip.Payload()[header.ICMPv4MinimumSize] ^= 0xff
		}), true, false},
		{"first fragment", icmpPacket(outside, header.ICMPv4Echo, func(ip header.IPv4) {
			ip.SetFlagsFragmentOffset(header.IPv4FlagMoreFragments, 0)
		}), true, false},
		{"later fragment", icmpPacket(outside, header.ICMPv4Echo, func(ip header.IPv4) {
			ip.SetFlagsFragmentOffset(0, 8)
		}), true, false},
		{"total length beyond the packet", icmpPacket(outside, header.ICMPv4Echo, func(ip header.IPv4) {
			ip.SetTotalLength(ip.TotalLength() + 1)
		}), false, false},
		{"from the unspecified address", icmpPacket(outside, header.ICMPv4Echo, func(ip header.IPv4) { ip.SetSourceAddress(header.IPv4Any) }), true, false},
		{"from the broadcast address", icmpPacket(outside, header.ICMPv4Echo, func(ip header.IPv4) { ip.SetSourceAddress(header.IPv4Broadcast) }), true, false},
		{"from the subnet broadcast", icmpPacket(outside, header.ICMPv4Echo, func(ip header.IPv4) { ip.SetSourceAddress(testBroadcast) }), true, false},
		{"from a multicast group", icmpPacket(outside, header.ICMPv4Echo, func(ip header.IPv4) {
			ip.SetSourceAddress(tcpip.AddrFrom4([4]byte{224, 0, 0, 1}))
		}), true, false},
		{"not IPv4 (version 6 behind the IPv4 ethertype)", icmpPacket(outside, header.ICMPv4Echo, func(ip header.IPv4) {
			ip[0] = 6<<4 | ip[0]&0x0f
		}), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer c.pkt.DecRef()
			req, divert := d.echoRequestOf(c.pkt)
			if divert != c.divert || (req != nil) != c.forwarded {
				t.Fatalf("echoRequestOf = %+v, %v; want diverted %v, forwarded %v", req, divert, c.divert, c.forwarded)
			}
			if req != nil && (req.ident != 0x1234 || req.seq != 9 || string(req.payload) != "ping payload" || req.src != netip.MustParseAddr("192.168.127.2")) {
				t.Fatalf("request %+v, want ident 0x1234 seq 9 from the guest with its payload", req)
			}
		})
	}
}

// The host loopback address, while only host sockets claim it, is the network's own:
// the stack answers its pings as it answers the gateway's, and once unclaimed they are
// forwarded (and judged) again.
func TestEchoDivertLeavesAnAddressTheNetworkAnswersItselfToTheStack(t *testing.T) {
	d := &echoDivert{gateway: testGateway, broadcast: testBroadcast}
	own := tcpip.AddrFrom4([4]byte{192, 168, 127, 254})
	divertedTo := func() bool {
		pkt := icmpPacket(own, header.ICMPv4Echo, nil)
		defer pkt.DecRef()
		req, divert := d.echoRequestOf(pkt)
		return divert && req != nil
	}
	d.answerItself(own, true)
	if divertedTo() {
		t.Fatal("a ping to the network's own address was diverted to the forwarder")
	}
	d.answerItself(own, false)
	if !divertedTo() {
		t.Fatal("once no longer the network's own, a ping to the address was not forwarded")
	}
}

// startTestNetwork starts a network with allowNet entries on a socket in a temporary
// directory; no guest attaches (the tests hand it packets directly).
func startTestNetwork(t *testing.T, allowNet []string) *Network {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"socketPath": filepath.Join(t.TempDir(), "net.sock"), "allowNet": allowNet})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Decode(doc)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	n, err := New(cfg, Options{Log: &recordingLog{}})
	if err != nil {
		t.Fatalf("network: %v", err)
	}
	t.Cleanup(n.Close)
	return n
}

func TestAnAllowedPingTheHostCannotSendIsAFailedConnect(t *testing.T) {
	n := startTestNetwork(t, []string{"192.0.2.0/24"})
	n.echo.host.listen = func(string, string) (*icmp.PacketConn, error) { return nil, syscall.EPERM }
	n.Subscribe(audit.KindConnection)
	dst := netip.MustParseAddr("192.0.2.1")
	n.forwardEcho(echoRequest{src: netip.MustParseAddr("192.168.127.2"), dst: dst, ident: 1, seq: 1, payload: []byte("ping")})
	var events []any
	deadline := time.Now().Add(10 * time.Second)
	for len(events) == 0 && time.Now().Before(deadline) {
		events = n.DrainEvents(0)
		time.Sleep(time.Millisecond) // polling the queue: the relay runs on its own goroutine
	}
	if len(events) != 1 {
		t.Fatalf("events %+v, want one", events)
	}
	e := events[0].(*audit.ConnectionEvent)
	if e.Phase != audit.PhaseClose || e.Reason != audit.ConnectFailed || e.Protocol != "icmp" || e.Destination == nil ||
		e.Destination.Addr != netip.AddrPortFrom(dst, 0) || !strings.Contains(e.Detail, "CAP_NET_RAW") || *e.BytesToGuest != 0 {
		t.Fatalf("event %+v, want an icmp close to %s with reason connect-failed saying why", e, dst)
	}
	if s := n.Stats(); s.TCP.FailedConnectionAttempts != 0 || s.Policy.Denied != 0 {
		t.Fatalf("stats %+v: a ping is neither a TCP attempt nor a denial", s)
	}
}

// Running out of descriptors says nothing about what the host permits: that failure is
// the request's own, and the next request probes again.
func TestHostPingerDoesNotKeepATransientFailureAsTheVerdict(t *testing.T) {
	h, log, tried := refusingPinger(func(n int) error {
		if n <= 2 {
			return syscall.EMFILE
		}
		return syscall.EPERM
	})
	dst := netip.MustParseAddr("192.0.2.1")
	if _, err := h.open(dst); errors.Is(err, errNoEchoSocket) || !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("first open = %v, want the EMFILE failure, not the no-permission verdict", err)
	}
	if len(log.warns) != 0 {
		t.Fatalf("warnings %q after a transient failure, want none", log.warns)
	}
	for range 2 {
		if _, err := h.open(dst); !errors.Is(err, errNoEchoSocket) {
			t.Fatalf("open = %v, want errNoEchoSocket once the host refused both kinds", err)
		}
	}
	if strings.Join(*tried, ",") != "udp4,ip4:icmp,udp4,ip4:icmp" || len(log.warns) != 1 {
		t.Fatalf("sockets tried %v, warnings %q: want the probe repeated after the transient failure only, one warning", *tried, log.warns)
	}
}
