package network

import (
	"bytes"
	"net"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// batchFixture is a guest flow's gVisor endpoint with a gVisor sender connected to it,
// and a host socket pair: the batch writes to host, sink receives.
type batchFixture struct {
	guest  net.Conn // the gonet connection over ep
	ep     tcpip.Endpoint
	sender *gonet.UDPConn
	host   *net.UDPConn
	sink   *net.UDPConn
}

func newBatchFixture(t *testing.T) *batchFixture {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{udp.NewProtocol},
	})
	t.Cleanup(s.Destroy)
	if err := s.CreateNIC(1, loopback.New()); err != nil {
		t.Fatalf("CreateNIC: %s", err)
	}
	addr := tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
	if err := s.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: addr.WithPrefix()}, stack.AddressProperties{}); err != nil {
		t.Fatalf("AddProtocolAddress: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header4Subnet(t), NIC: 1}})
	var wq waiter.Queue
	ep, terr := s.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		t.Fatalf("NewEndpoint: %s", terr)
	}
	ep.SocketOptions().SetReceiveBufferSize(udpReceiveBuffer, true)
	if err := ep.Bind(tcpip.FullAddress{NIC: 1, Addr: addr, Port: 4000}); err != nil {
		t.Fatalf("Bind: %s", err)
	}
	guest := gonet.NewUDPConn(&wq, ep)
	sender, err := gonet.DialUDP(s, nil, &tcpip.FullAddress{NIC: 1, Addr: addr, Port: 4000}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("DialUDP: %v", err)
	}
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("ListenUDP: %v", err)
	}
	host, err := net.DialUDP("udp", nil, sink.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatalf("DialUDP host: %v", err)
	}
	t.Cleanup(func() { _ = guest.Close(); _ = sender.Close(); _ = sink.Close(); _ = host.Close() })
	return &batchFixture{guest: guest, ep: ep, sender: sender, host: host, sink: sink}
}

func header4Subnet(t *testing.T) tcpip.Subnet {
	t.Helper()
	sn, err := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{}), tcpip.MaskFromBytes([]byte{0, 0, 0, 0}))
	if err != nil {
		t.Fatalf("NewSubnet: %v", err)
	}
	return sn
}

// receive reads want datagrams from the sink, in order.
// nextBatch is the relay's step: a blocking read of the first datagram into b, then
// gather; it returns the batch's datagram count and bytes.
func (f *batchFixture) nextBatch(t *testing.T, b *udpBatch) (count, total int) {
	t.Helper()
	n, err := f.guest.Read(b.first())
	if err != nil {
		t.Fatalf("read the batch's first datagram: %v", err)
	}
	return b.gather(n)
}

func (f *batchFixture) receive(t *testing.T, want [][]byte) {
	t.Helper()
	buf := make([]byte, udpBufferSize)
	_ = f.sink.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, w := range want {
		n, err := f.sink.Read(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], w) {
			t.Fatalf("datagram %d: %d bytes %q..., want %d bytes %q...", i, n, buf[:min(n, 8)], len(w), w[:min(len(w), 8)])
		}
	}
}

func TestUDPBatchSendsEveryQueuedDatagramInOrder(t *testing.T) {
	f := newBatchFixture(t)
	var sent [][]byte
	for i := range 10 {
		d := bytes.Repeat([]byte{byte('a' + i)}, 64+i)
		sent = append(sent, d)
		if _, err := f.sender.Write(d); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	b := newUDPBatch(f.ep, f.host)
	count, total := f.nextBatch(t, b)
	if count != 10 {
		t.Fatalf("batch holds %d datagrams, want all 10 queued", count)
	}
	want := 0
	for _, d := range sent {
		want += len(d)
	}
	if total != want {
		t.Fatalf("batch holds %d bytes, want %d", total, want)
	}
	if err := b.send(count); err != nil {
		t.Fatalf("send: %v", err)
	}
	f.receive(t, sent)
}

// A largest datagram leaves no room for another whole one: it ends its batch, and the
// datagram queued behind it is the next batch's first, whole.
func TestUDPBatchEndsBeforeADatagramCouldBeCut(t *testing.T) {
	f := newBatchFixture(t)
	small := bytes.Repeat([]byte{'s'}, 100)
	large := bytes.Repeat([]byte{'L'}, 60000)
	tail := bytes.Repeat([]byte{'t'}, 50000)
	for _, d := range [][]byte{small, large, tail} {
		if _, err := f.sender.Write(d); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	b := newUDPBatch(f.ep, f.host)
	count, _ := f.nextBatch(t, b)
	if count != 2 {
		t.Fatalf("first batch holds %d datagrams, want 2 (the small and the large one)", count)
	}
	if err := b.send(count); err != nil {
		t.Fatalf("send: %v", err)
	}
	if count, _ := f.nextBatch(t, b); count != 1 {
		t.Fatalf("second batch holds %d datagrams, want 1", count)
	}
	if err := b.send(1); err != nil {
		t.Fatalf("send: %v", err)
	}
	f.receive(t, [][]byte{small, large, tail})
}

// A host that went away answers with ICMP port unreachable, which the socket reports
// on a later send (sendmmsg then fails on its first message): the refused datagrams
// are dropped and the relay goes on, as with one write per datagram.
func TestUDPBatchDropsWhatAGoneHostRefusesAndGoesOn(t *testing.T) {
	f := newBatchFixture(t)
	_ = f.sink.Close()
	b := newUDPBatch(f.ep, f.host)
	for round := range 20 {
		for i := range 8 {
			if _, err := f.sender.Write([]byte{byte(round), byte(i)}); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		count, _ := f.nextBatch(t, b)
		if err := b.send(count); err != nil {
			t.Fatalf("round %d: send = %v, want refusals dropped", round, err)
		}
	}
}
