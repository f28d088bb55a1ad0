package dhcp

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

var testMAC = net.HardwareAddr{0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee}

func TestDiscoverCarriesTypeMACAndBroadcastFlag(t *testing.T) {
	raw := BuildDiscover(0xdeadbeef, testMAC)
	m, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != MessageDiscover || m.XID != 0xdeadbeef || m.ClientMAC.String() != testMAC.String() {
		t.Fatalf("got type %v xid %x mac %v", m.Type(), m.XID, m.ClientMAC)
	}
	if binary.BigEndian.Uint16(raw[offsetFlags:])&flagBroadcast == 0 {
		t.Fatal("broadcast flag not set")
	}
	if len(m.Options[OptionParameterRequest]) == 0 {
		t.Fatal("no parameter request list")
	}
}

func TestRequestNamesOfferedAddressAndServer(t *testing.T) {
	ip, server := netip.MustParseAddr("192.168.127.2"), netip.MustParseAddr("192.168.127.1")
	m, err := Parse(BuildRequest(7, testMAC, ip, server))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != MessageRequest {
		t.Fatalf("type %v", m.Type())
	}
	if got := addrs(m.Options[OptionRequestedIP]); len(got) != 1 || got[0] != ip {
		t.Fatalf("requested ip %v", got)
	}
	if got := addrs(m.Options[OptionServerIdentifier]); len(got) != 1 || got[0] != server {
		t.Fatalf("server id %v", got)
	}
}

// serverReply builds what a DHCP server sends back, as bytes on the wire.
func serverReply(xid uint32, typ MessageType, extra ...option) []byte {
	raw := build(xid, testMAC, append([]option{{OptionMessageType, []byte{byte(typ)}}}, extra...))
	raw[0] = opReply
	copy(raw[offsetYiaddr:], []byte{192, 168, 127, 2})
	return raw
}

// "example.internal" then "corp.example.internal" compressed against the first name.
var searchOption = []byte{
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 8, 'i', 'n', 't', 'e', 'r', 'n', 'a', 'l', 0,
	4, 'c', 'o', 'r', 'p', 0xc0, 0,
}

func fullAck(xid uint32) []byte {
	return serverReply(xid, MessageAck,
		option{OptionSubnetMask, []byte{255, 255, 255, 0}},
		option{OptionRouter, []byte{192, 168, 127, 1}},
		option{OptionDNSServers, []byte{192, 168, 127, 1, 8, 8, 8, 8}},
		option{OptionInterfaceMTU, []byte{0x05, 0xdc}},
		option{OptionLeaseTime, []byte{0, 0, 0x0e, 0x10}},
		option{OptionServerIdentifier, []byte{192, 168, 127, 1}},
		option{OptionDomainSearch, searchOption},
	)
}

func TestAckYieldsEveryLeaseField(t *testing.T) {
	m, err := Parse(fullAck(1))
	if err != nil {
		t.Fatal(err)
	}
	lease, err := m.Lease()
	if err != nil {
		t.Fatal(err)
	}
	want := Lease{
		IP:            netip.MustParseAddr("192.168.127.2"),
		PrefixLength:  24,
		Router:        netip.MustParseAddr("192.168.127.1"),
		DNSServers:    []netip.Addr{netip.MustParseAddr("192.168.127.1"), netip.MustParseAddr("8.8.8.8")},
		MTU:           1500,
		SearchDomains: []string{"example.internal", "corp.example.internal"},
		LeaseTime:     time.Hour,
		ServerID:      netip.MustParseAddr("192.168.127.1"),
	}
	if !reflect.DeepEqual(lease, want) {
		t.Fatalf("lease\n got %+v\nwant %+v", lease, want)
	}
}

func TestParseRejectsMalformedMessages(t *testing.T) {
	good := fullAck(1)
	noCookie := append([]byte(nil), good...)
	noCookie[fixedSize] = 0
	overrun := append([]byte(nil), good[:fixedSize+4]...)
	overrun = append(overrun, OptionRouter, 200, 1, 2)
	for name, raw := range map[string][]byte{
		"short":     good[:100],
		"no cookie": noCookie,
		"overrun":   overrun,
	} {
		if _, err := Parse(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestSearchOptionPointerLoopIsAnError(t *testing.T) {
	if _, err := decodeDomainSearch([]byte{0xc0, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}

func TestBroadcastFrameIsValidIPv4UDP(t *testing.T) {
	payload := BuildDiscover(9, testMAC)
	frame := EncapsulateBroadcast(testMAC, payload)
	eth := header.Ethernet(frame)
	if eth.DestinationAddress() != header.EthernetBroadcastAddress || string(eth.SourceAddress()) != string(testMAC) {
		t.Fatalf("ethernet %v -> %v", eth.SourceAddress(), eth.DestinationAddress())
	}
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	if !ip.IsValid(len(ip)) || !ip.IsChecksumValid() {
		t.Fatal("invalid IPv4 header or checksum")
	}
	udp := header.UDP(ip.Payload())
	if udp.SourcePort() != ClientPort || udp.DestinationPort() != ServerPort {
		t.Fatalf("ports %d -> %d", udp.SourcePort(), udp.DestinationPort())
	}
	if !udp.IsChecksumValid(ip.SourceAddress(), ip.DestinationAddress(), checksum.Checksum(udp.Payload(), 0)) {
		t.Fatal("invalid UDP checksum")
	}
	// Our own request goes to port 67: it is not something the client should consume.
	if _, ok := ClientPayload(frame); ok {
		t.Fatal("a frame to the server port was taken as a client payload")
	}
}

// toClientPort turns a client broadcast into what the server's reply frame looks like.
func toClientPort(frame []byte) []byte {
	out := append([]byte(nil), frame...)
	udp := header.UDP(out[header.EthernetMinimumSize+header.IPv4MinimumSize:])
	udp.SetSourcePort(ServerPort)
	udp.SetDestinationPort(ClientPort)
	return out
}

func TestClientPayloadExtractsDatagramToPort68(t *testing.T) {
	payload := fullAck(3)
	got, ok := ClientPayload(toClientPort(EncapsulateBroadcast(testMAC, payload)))
	if !ok || string(got) != string(payload) {
		t.Fatalf("ok=%v, %d bytes (want %d)", ok, len(got), len(payload))
	}
	if _, ok := ClientPayload([]byte{1, 2, 3}); ok {
		t.Fatal("a runt frame was accepted")
	}
}

// fakeServer answers DISCOVER with OFFER and REQUEST with the given reply type.
type fakeServer struct {
	deliver   func([]byte)
	requestOK bool
	sent      []MessageType
}

func (f *fakeServer) Listen(deliver func([]byte)) func() {
	f.deliver = deliver
	return func() { f.deliver = nil }
}

func (f *fakeServer) WriteFrame(frame []byte) error {
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	m, err := Parse(header.UDP(ip.Payload()).Payload())
	if err != nil {
		return err
	}
	f.sent = append(f.sent, m.Type())
	switch {
	case m.Type() == MessageDiscover:
		go f.deliver(serverReply(m.XID, MessageOffer, option{OptionServerIdentifier, []byte{192, 168, 127, 1}}))
	case m.Type() == MessageRequest && f.requestOK:
		go f.deliver(fullAck(m.XID))
	case m.Type() == MessageRequest:
		go f.deliver(serverReply(m.XID, MessageNak))
	}
	return nil
}

func TestAcquireRunsTheFourStepExchange(t *testing.T) {
	server := &fakeServer{requestOK: true}
	lease, err := Acquire(context.Background(), server, testMAC)
	if err != nil {
		t.Fatal(err)
	}
	if lease.IP.String() != "192.168.127.2" || lease.MTU != 1500 {
		t.Fatalf("lease %+v", lease)
	}
	if !reflect.DeepEqual(server.sent, []MessageType{MessageDiscover, MessageRequest}) {
		t.Fatalf("client sent %v", server.sent)
	}
}

func TestAcquireFailsOnNak(t *testing.T) {
	if _, err := Acquire(context.Background(), &fakeServer{}, testMAC); err == nil {
		t.Fatal("NAK accepted")
	}
}

type silentServer struct{}

func (silentServer) Listen(func([]byte)) func() { return func() {} }
func (silentServer) WriteFrame([]byte) error    { return nil }

func TestAcquireGivesUpWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Acquire(ctx, silentServer{}, testMAC); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
