package main

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

var testGuestMAC = net.HardwareAddr{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee}

// qemuGuest is a raw guest speaking the QEMU stream protocol: each Ethernet frame is
// preceded by its length as a 4-byte big-endian integer.
type qemuGuest struct {
	t    *testing.T
	conn net.Conn
}

func dialGuest(t *testing.T, path string) *qemuGuest {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("connect guest to %s: %v", path, err)
	}
	return &qemuGuest{t: t, conn: conn}
}

func (g *qemuGuest) send(frame []byte) {
	g.t.Helper()
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(frame)))
	if _, err := g.conn.Write(append(size[:], frame...)); err != nil {
		g.t.Fatalf("send frame: %v", err)
	}
}

// receive reads the next frame; the deadline only keeps a broken build from hanging
// the test run, it asserts nothing about speed.
func (g *qemuGuest) receive() []byte {
	g.t.Helper()
	_ = g.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(g.conn, size[:]); err != nil {
		g.t.Fatalf("read frame length: %v", err)
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(g.conn, frame); err != nil {
		g.t.Fatalf("read frame: %v", err)
	}
	return frame
}

// dhcpFrame wraps a DHCP message in UDP 68->67, IPv4 0.0.0.0->255.255.255.255 and an
// Ethernet broadcast from the guest's MAC.
func dhcpFrame(t *testing.T, msg *dhcpv4.DHCPv4) []byte {
	t.Helper()
	payload := msg.ToBytes()
	udpLen := header.UDPMinimumSize + len(payload)
	ipLen := header.IPv4MinimumSize + udpLen
	frame := make([]byte, header.EthernetMinimumSize+ipLen)
	header.Ethernet(frame).Encode(&header.EthernetFields{
		SrcAddr: tcpip.LinkAddress(testGuestMAC),
		DstAddr: header.EthernetBroadcastAddress,
		Type:    header.IPv4ProtocolNumber,
	})
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(ipLen),
		TTL:         64,
		Protocol:    uint8(header.UDPProtocolNumber),
		SrcAddr:     header.IPv4Any,
		DstAddr:     header.IPv4Broadcast,
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	udp := header.UDP(ip.Payload())
	udp.Encode(&header.UDPFields{SrcPort: 68, DstPort: 67, Length: uint16(udpLen)})
	copy(udp.Payload(), payload)
	return frame
}

// dhcpReply returns the DHCP message inside frame, or nil if frame is something else.
func dhcpReply(frame []byte) *dhcpv4.DHCPv4 {
	if len(frame) < header.EthernetMinimumSize || header.Ethernet(frame).Type() != header.IPv4ProtocolNumber {
		return nil
	}
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	if !ip.IsValid(len(ip)) || ip.TransportProtocol() != header.UDPProtocolNumber {
		return nil
	}
	udp := header.UDP(ip.Payload())
	if udp.SourcePort() != 67 || udp.DestinationPort() != 68 {
		return nil
	}
	msg, err := dhcpv4.FromBytes(udp.Payload())
	if err != nil {
		return nil
	}
	return msg
}

// discover sends a DHCP DISCOVER and returns the OFFER that answers it.
func (g *qemuGuest) discover() *dhcpv4.DHCPv4 {
	g.t.Helper()
	msg, err := dhcpv4.NewDiscovery(testGuestMAC)
	if err != nil {
		g.t.Fatal(err)
	}
	g.send(dhcpFrame(g.t, msg))
	for {
		reply := dhcpReply(g.receive())
		if reply != nil && reply.TransactionID == msg.TransactionID {
			return reply
		}
	}
}

func TestGuestGetsADHCPOfferAgainAfterReconnecting(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	res := mustCreate(t, configJSON(t, path, map[string]any{"mtu": 9000, "dnsSearchDomains": []string{"example.internal"}}))
	for attempt := 1; attempt <= 2; attempt++ {
		g := dialGuest(t, path)
		offer := g.discover()
		if offer.MessageType() != dhcpv4.MessageTypeOffer {
			t.Fatalf("attempt %d: reply type %s", attempt, offer.MessageType())
		}
		if !offer.YourIPAddr.Equal(net.IPv4(192, 168, 127, 2)) {
			t.Fatalf("attempt %d: offered %s, want the static lease 192.168.127.2", attempt, offer.YourIPAddr)
		}
		if r := offer.Router(); len(r) != 1 || !r[0].Equal(net.IPv4(192, 168, 127, 1)) {
			t.Fatalf("router %v", r)
		}
		if d := offer.DNS(); len(d) != 1 || !d[0].Equal(net.IPv4(192, 168, 127, 1)) {
			t.Fatalf("dns %v", d)
		}
		if mtu := offer.Options.Get(dhcpv4.OptionInterfaceMTU); len(mtu) != 2 || binary.BigEndian.Uint16(mtu) != 9000 {
			t.Fatalf("mtu option %v", mtu)
		}
		if sl := offer.DomainSearch(); sl == nil || len(sl.Labels) != 1 || sl.Labels[0] != "example.internal" {
			t.Fatalf("search domains %v", sl)
		}
		s, err := instanceStats(int64(res.ID))
		if err != nil {
			t.Fatal(err)
		}
		if !s.Guest.Connected || s.Guest.Connections != uint64(attempt) || s.BytesReceived == 0 {
			t.Fatalf("attempt %d: stats %+v", attempt, s)
		}
		// The switch counts a frame as sent after its write returns, which may be just
		// after the guest read it; the first offer is surely counted by the second.
		if attempt > 1 && s.BytesSent == 0 {
			t.Fatalf("attempt %d: bytesSent 0 after %d offers", attempt, attempt)
		}
		_ = g.conn.Close()
	}
}

// dgramDiscover sends a DHCP DISCOVER as one datagram from a client socket bound at
// clientPath (vfkit protocol: one frame per datagram) and returns the OFFER.
func dgramDiscover(t *testing.T, socketPath, clientPath string) *dhcpv4.DHCPv4 {
	t.Helper()
	conn, err := net.DialUnix("unixgram", &net.UnixAddr{Name: clientPath, Net: "unixgram"}, &net.UnixAddr{Name: socketPath, Net: "unixgram"})
	if err != nil {
		t.Fatalf("vfkit client: %v", err)
	}
	defer conn.Close()
	msg, err := dhcpv4.NewDiscovery(testGuestMAC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("VFKT")); err != nil { // the old vfkit handshake is skipped
		t.Fatal(err)
	}
	if _, err := conn.Write(dhcpFrame(t, msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("vfkit read: %v", err)
		}
		if reply := dhcpReply(buf[:n]); reply != nil && reply.TransactionID == msg.TransactionID {
			return reply
		}
	}
}

func TestVfkitGuestIsServedAgainFromANewAddress(t *testing.T) {
	dir := testDir(t)
	path := filepath.Join(dir, "net.sock")
	res := mustCreate(t, configJSON(t, path, map[string]any{"protocol": "vfkit"}))
	for i, client := range []string{"vm-boot-1.sock", "vm-boot-2.sock"} {
		offer := dgramDiscover(t, path, filepath.Join(dir, client))
		if offer.MessageType() != dhcpv4.MessageTypeOffer || !offer.YourIPAddr.Equal(net.IPv4(192, 168, 127, 2)) {
			t.Fatalf("%s: reply %s for %s", client, offer.MessageType(), offer.YourIPAddr)
		}
		s, _ := instanceStats(int64(res.ID))
		if !s.Guest.Connected || s.Guest.Connections != uint64(i+1) {
			t.Fatalf("%s: guest stats %+v", client, s.Guest)
		}
	}
}

func TestCaptureFileRecordsTheGuestsTrafficAsPcap(t *testing.T) {
	dir := testDir(t)
	path := filepath.Join(dir, "net.sock")
	capture := filepath.Join(dir, "net.pcap")
	res := mustCreate(t, configJSON(t, path, map[string]any{"captureFile": capture}))
	g := dialGuest(t, path)
	g.discover()
	_ = g.conn.Close()
	if err := destroyInstance(int64(res.ID)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	// A pcap file: 24-byte global header with magic a1b2c3d4 (native byte order), then
	// at least the DISCOVER and the OFFER, each with a 16-byte record header.
	const globalHeader, recordHeader = 24, 16
	if len(data) < globalHeader+2*recordHeader || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
		t.Fatalf("capture is %d bytes, magic %x", len(data), data[:min(4, len(data))])
	}
}
