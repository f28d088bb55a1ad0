package l2switch

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

var (
	gatewayMAC = tcpip.LinkAddress("\x5a\x94\xef\xe4\x0c\xdd")
	macA       = tcpip.LinkAddress("\x02\x00\x00\x00\x00\x0a")
	macB       = tcpip.LinkAddress("\x02\x00\x00\x00\x00\x0b")
)

// fakeGateway records the payloads delivered to the gateway.
type fakeGateway struct {
	mu        sync.Mutex
	delivered [][]byte
}

func (g *fakeGateway) LinkAddress() tcpip.LinkAddress { return gatewayMAC }

func (g *fakeGateway) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	v := pkt.ToView()
	g.mu.Lock()
	g.delivered = append(g.delivered, append([]byte(nil), v.AsSlice()...))
	g.mu.Unlock()
	v.Release()
}

func (g *fakeGateway) payloads() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]byte(nil), g.delivered...)
}

// chanPort is a port fed from a channel of frames; written frames are recorded.
type chanPort struct {
	in      chan []byte
	mu      sync.Mutex
	written [][]byte
	closed  chan struct{}
	once    sync.Once
}

func newChanPort() *chanPort { return &chanPort{in: make(chan []byte), closed: make(chan struct{})} }

func (p *chanPort) ReadFrame() (*buffer.View, error) {
	select {
	case f := <-p.in:
		v := buffer.NewViewSize(len(f))
		copy(v.AsSlice(), f)
		return v, nil
	case <-p.closed:
		return nil, io.EOF
	}
}

func (p *chanPort) WriteFrame(slices [][]byte) error {
	var f []byte
	for _, s := range slices {
		f = append(f, s...)
	}
	p.mu.Lock()
	p.written = append(p.written, f)
	p.mu.Unlock()
	return nil
}

func (p *chanPort) Close() error { p.once.Do(func() { close(p.closed) }); return nil }

func (p *chanPort) frames() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.written...)
}

// waitFor polls cond; the bound only keeps a broken switch from hanging the run.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func frame(src, dst tcpip.LinkAddress, payload string) []byte {
	f := make([]byte, header.EthernetMinimumSize+len(payload))
	header.Ethernet(f).Encode(&header.EthernetFields{SrcAddr: src, DstAddr: dst, Type: header.IPv4ProtocolNumber})
	copy(f[header.EthernetMinimumSize:], payload)
	return f
}

// serve runs the switch on p until the test ends.
func serve(t *testing.T, s *Switch, p *chanPort) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		_ = s.Serve(context.Background(), p)
		close(done)
	}()
	t.Cleanup(func() { _ = p.Close(); <-done })
	waitFor(t, func() bool { return attached(s, p) })
}

func attached(s *Switch, p Port) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, q := range s.ports {
		if q == p {
			return true
		}
	}
	return false
}

func learned(s *Switch, mac tcpip.LinkAddress) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.cam[mac]
	return ok
}

func TestFramesAreSwitchedByDestinationMAC(t *testing.T) {
	gw := &fakeGateway{}
	s := New(gw)
	a, b := newChanPort(), newChanPort()
	serve(t, s, a)
	serve(t, s, b)

	a.in <- frame(macA, gatewayMAC, "to gateway")
	b.in <- frame(macB, header.EthernetBroadcastAddress, "broadcast from b")
	// Once the gateway has both, each port's MAC is learned.
	waitFor(t, func() bool { return len(gw.payloads()) == 2 })
	a.in <- frame(macA, macB, "a to b")
	a.in <- frame(macA, "\x02\x00\x00\x00\x00\xff", "to nobody")
	a.in <- frame(macA, gatewayMAC, "barrier") // frames of one port are switched in order
	waitFor(t, func() bool { return len(gw.payloads()) == 3 })
	got := gw.payloads()
	want := map[string]bool{"to gateway": true, "broadcast from b": true, "barrier": true}
	for _, p := range got {
		if !want[string(p)] {
			t.Errorf("gateway got %q", p)
		}
	}
	if fa := a.frames(); len(fa) != 1 || string(fa[0][header.EthernetMinimumSize:]) != "broadcast from b" {
		t.Errorf("port a got %q, want only b's broadcast", fa)
	}
	if fb := b.frames(); len(fb) != 1 || string(fb[0][header.EthernetMinimumSize:]) != "a to b" {
		t.Errorf("port b got %q, want only a's unicast", fb)
	}
	if s.Received() == 0 || s.Sent() == 0 {
		t.Errorf("counters sent %d received %d", s.Sent(), s.Received())
	}
}

func TestGatewayFramesGoToTheLearnedPortOrEveryPort(t *testing.T) {
	gw := &fakeGateway{}
	s := New(gw)
	a, b := newChanPort(), newChanPort()
	serve(t, s, a)
	serve(t, s, b)
	a.in <- frame(macA, gatewayMAC, "learn a")
	waitFor(t, func() bool { return len(gw.payloads()) == 1 })

	send := func(dst tcpip.LinkAddress, payload string) {
		f := frame(gatewayMAC, dst, payload)
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(f)})
		s.DeliverNetworkPacket(header.IPv4ProtocolNumber, pkt)
		pkt.DecRef()
	}
	send(macA, "unicast")
	send(header.EthernetBroadcastAddress, "broadcast")
	send(macB, "unknown MAC is dropped")

	if fa := a.frames(); len(fa) != 2 {
		t.Fatalf("port a got %d frames, want unicast + broadcast", len(fa))
	}
	if fb := b.frames(); len(fb) != 1 || string(fb[0][header.EthernetMinimumSize:]) != "broadcast" {
		t.Fatalf("port b got %q", fb)
	}
}

func TestStreamPortFramesWithABigEndianLengthPrefix(t *testing.T) {
	left, right := net.Pipe()
	defer left.Close()
	defer right.Close()
	p := NewStreamPort(left)
	go func() { _ = p.WriteFrame([][]byte{[]byte("head"), []byte("er+payload")}) }()
	var size [4]byte
	if _, err := io.ReadFull(right, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(right, body); err != nil || string(body) != "header+payload" {
		t.Fatalf("peer read %q, %v", body, err)
	}

	go func() { _, _ = right.Write(append([]byte{0, 0, 0, 5}, "hello"...)) }()
	v, err := p.ReadFrame()
	if err != nil || string(v.AsSlice()) != "hello" {
		t.Fatalf("ReadFrame = %v, %v", v, err)
	}
	v.Release()

	go func() { _, _ = right.Write([]byte{0, 1, 0, 1}) }() // 65537 bytes: too large
	if _, err := p.ReadFrame(); err == nil {
		t.Fatal("an oversized frame was accepted")
	}
}

type failingPort struct{ *chanPort }

func (p *failingPort) WriteFrame([][]byte) error { return errors.New("peer gone") }

func TestAPortThatFailsAWriteIsDisconnected(t *testing.T) {
	s := New(&fakeGateway{})
	p := &failingPort{chanPort: newChanPort()}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), p) }()
	p.in <- frame(macA, gatewayMAC, "learn")
	waitFor(t, func() bool { return learned(s, macA) })
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame(gatewayMAC, macA, "x"))})
	s.DeliverNetworkPacket(header.IPv4ProtocolNumber, pkt)
	pkt.DecRef()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Serve returned no error for a closed port")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve kept running after its port failed a write")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.ports) != 0 || len(s.cam) != 0 {
		t.Fatalf("port or its MAC still attached: %d ports, %d MACs", len(s.ports), len(s.cam))
	}
}
