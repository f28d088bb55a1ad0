package main

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"bun-gvproxy/libgvproxy/internal/testguest"
)

var (
	testGuestIP   = tcpip.AddrFrom4([4]byte{192, 168, 127, 2})
	testGatewayIP = tcpip.AddrFrom4([4]byte{192, 168, 127, 1})
)

// synFrame is a hand-made TCP SYN from the guest to dst:port, sent to the gateway's
// MAC as a hostile guest would, whatever its routing table says.
func synFrame(gatewayMAC tcpip.LinkAddress, dst tcpip.Address, port uint16) []byte {
	const tcpLen = header.TCPMinimumSize
	ipLen := header.IPv4MinimumSize + tcpLen
	frame := make([]byte, header.EthernetMinimumSize+ipLen)
	header.Ethernet(frame).Encode(&header.EthernetFields{
		SrcAddr: tcpip.LinkAddress(testGuestMAC), DstAddr: gatewayMAC, Type: header.IPv4ProtocolNumber,
	})
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(ipLen), TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
		SrcAddr: testGuestIP, DstAddr: dst,
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	tcp := header.TCP(ip.Payload())
	tcp.Encode(&header.TCPFields{SrcPort: 40000, DstPort: port, SeqNum: 1, DataOffset: tcpLen, Flags: header.TCPFlagSyn, WindowSize: 65535})
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, testGuestIP, dst, uint16(tcpLen))
	tcp.SetChecksum(^tcp.CalculateChecksum(xsum))
	return frame
}

// arpReply answers the gateway's ARP request for the guest's address, or returns nil.
func arpReply(frame []byte) []byte {
	eth := header.Ethernet(frame)
	if len(frame) < header.EthernetMinimumSize+header.ARPSize || eth.Type() != header.ARPProtocolNumber {
		return nil
	}
	req := header.ARP(frame[header.EthernetMinimumSize:])
	if !req.IsValid() || req.Op() != header.ARPRequest || tcpip.AddrFromSlice(req.ProtocolAddressTarget()) != testGuestIP {
		return nil
	}
	return testguest.ARPFrame(header.ARPReply, tcpip.LinkAddress(testGuestMAC), testGuestIP, eth.SourceAddress(),
		tcpip.LinkAddress(req.HardwareAddressSender()), tcpip.AddrFromSlice(req.ProtocolAddressSender()))
}

// awaitTCPReply answers ARP and returns the source and flags of the first TCP segment
// sent to the guest.
func (g *qemuGuest) awaitTCPReply() (tcpip.Address, header.TCPFlags) {
	g.t.Helper()
	for {
		frame := g.receive()
		if reply := arpReply(frame); reply != nil {
			g.send(reply)
			continue
		}
		if header.Ethernet(frame).Type() != header.IPv4ProtocolNumber {
			continue
		}
		ip := header.IPv4(frame[header.EthernetMinimumSize:])
		if !ip.IsValid(len(ip)) || ip.TransportProtocol() != header.TCPProtocolNumber {
			continue
		}
		return ip.SourceAddress(), header.TCP(ip.Payload()).Flags()
	}
}

// A guest that crafts packets to the host's loopback must not reach it whatever its
// routing says. gVisor drops 127.0.0.0/8 and 0.0.0.0 destinations arriving on the NIC
// before any forwarder sees them (our destination guard refuses them too, see the
// network package's guard test). A SYN to the gateway's own address afterwards is the
// barrier: frames are processed in order, so its RST being the first reply proves the
// two loopback SYNs got no answer, and the guard refusing it is the only denial.
func TestAHostileGuestCannotReachHostLoopbackDirectly(t *testing.T) {
	gatewayMAC, _ := net.ParseMAC("5a:94:ef:e4:0c:dd")
	loopback := tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
	unspecified := tcpip.AddrFrom4([4]byte{0, 0, 0, 0})
	for _, hostLoopback := range []bool{true, false} {
		path := filepath.Join(testDir(t), "net.sock")
		res := mustCreate(t, configJSON(t, path, map[string]any{"hostLoopback": hostLoopback}))
		ln, port := hostListener(t)
		g := dialGuest(t, path)
		g.send(synFrame(tcpip.LinkAddress(gatewayMAC), loopback, port))
		g.send(synFrame(tcpip.LinkAddress(gatewayMAC), unspecified, port))
		g.send(synFrame(tcpip.LinkAddress(gatewayMAC), testGatewayIP, port))
		src, flags := g.awaitTCPReply()
		if src != testGatewayIP || flags&header.TCPFlagRst == 0 || flags&header.TCPFlagSyn != 0 {
			t.Fatalf("hostLoopback=%v: first reply from %s with %s, want RST from the gateway", hostLoopback, src, flags)
		}
		wantDenied(t, res, 1, fmt.Sprintf("hostLoopback=%v, the gateway barrier: ", hostLoopback))
		_ = g.conn.Close()
		_ = ln.Close()
	}
}

// arpRequest asks, as the guest, who has target.
func arpRequest(target tcpip.Address) []byte {
	return testguest.ARPFrame(header.ARPRequest, tcpip.LinkAddress(testGuestMAC), testGuestIP, header.EthernetBroadcastAddress, "", target)
}

// awaitARPReply returns the sender address of the next ARP reply to the guest.
func (g *qemuGuest) awaitARPReply() tcpip.Address {
	g.t.Helper()
	for {
		frame := g.receive()
		if header.Ethernet(frame).Type() != header.ARPProtocolNumber {
			continue
		}
		a := header.ARP(frame[header.EthernetMinimumSize:])
		if a.IsValid() && a.Op() == header.ARPReply {
			return tcpip.AddrFromSlice(a.ProtocolAddressSender())
		}
	}
}

// A guest with an on-link /24 route ARPs for the host loopback address: the gateway
// must answer exactly when hostLoopback is on. The gateway's own address, asked after,
// is the barrier that shows whether the first request got an answer.
func TestTheGatewayAnswersARPForTheHostLoopbackAddressOnlyWhenEnabled(t *testing.T) {
	hostLoopbackIP := tcpip.AddrFrom4([4]byte{192, 168, 127, 254})
	for _, enabled := range []bool{true, false} {
		path := filepath.Join(testDir(t), "net.sock")
		mustCreate(t, configJSON(t, path, map[string]any{"hostLoopback": enabled}))
		g := dialGuest(t, path)
		g.send(arpRequest(hostLoopbackIP))
		g.send(arpRequest(testGatewayIP))
		first := g.awaitARPReply()
		want := testGatewayIP
		if enabled {
			want = hostLoopbackIP
		}
		if first != want {
			t.Fatalf("hostLoopback=%v: first ARP reply is for %s, want %s", enabled, first, want)
		}
		_ = g.conn.Close()
	}
}
