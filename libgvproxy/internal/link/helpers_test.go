package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/framing"
)

// testTimeout bounds waits so a broken link fails instead of hanging; nothing asserts
// how fast anything is.
const testTimeout = 10 * time.Second

const testMTU = 1500

var (
	gatewayMAC = tcpip.LinkAddress("\x5a\x94\xef\xe4\x0c\xdd")
	guestMAC   = tcpip.LinkAddress("\x5a\x94\xef\xe4\x0c\xee")
	otherMAC   = tcpip.LinkAddress("\x02\x00\x00\x00\x00\x99")
	gatewayIP  = tcpip.AddrFrom4([4]byte{192, 168, 127, 1})
	guestIP    = tcpip.AddrFrom4([4]byte{192, 168, 127, 2})
	loopbackIP = tcpip.AddrFrom4([4]byte{192, 168, 127, 254})
)

// delivered is what the stack was handed.
type delivered struct {
	protocol tcpip.NetworkProtocolNumber
	frame    []byte // link header + payload, copied
}

// recordingDispatcher stands in for the stack: it records every delivered packet.
type recordingDispatcher struct {
	packets chan delivered
}

func newRecordingDispatcher() *recordingDispatcher {
	return &recordingDispatcher{packets: make(chan delivered, 1024)}
}

func (d *recordingDispatcher) DeliverNetworkPacket(protocol tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	frame := append(bytes.Clone(pkt.LinkHeader().Slice()), pkt.Data().AsRange().ToSlice()...)
	d.packets <- delivered{protocol: protocol, frame: frame}
}

func (d *recordingDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

func (d *recordingDispatcher) next(t *testing.T) delivered {
	t.Helper()
	return receive(t, d.packets, "no packet was delivered to the stack")
}

// receive is the next value from ch; the test fails with failure if none comes within
// testTimeout.
func receive[T any](t testing.TB, ch <-chan T, failure string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatal(failure)
		var zero T
		return zero
	}
}

func (d *recordingDispatcher) none(t *testing.T) {
	t.Helper()
	select {
	case p := <-d.packets:
		t.Fatalf("unexpected delivery of a %d-byte frame", len(p.frame))
	default:
	}
}

// testLogger records warnings so tests can check a protocol error was logged.
type testLogger struct {
	discardLogger
	mu    sync.Mutex
	warns []string
}

func (l *testLogger) Warnf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warns = append(l.warns, format)
}

func (l *testLogger) warnings() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.warns)
}

func newTestEndpoint(t testing.TB, mtu uint32) (*Endpoint, *recordingDispatcher, *testLogger) {
	t.Helper()
	log := &testLogger{}
	e, d := newAttachedEndpoint(t, Config{MTU: mtu, MAC: gatewayMAC, GatewayIP: gatewayIP, VirtualIPs: []tcpip.Address{loopbackIP}, Log: log})
	return e, d, log
}

// newAttachedEndpoint is an endpoint with config, attached to a recording dispatcher and
// closed at the end of the test.
func newAttachedEndpoint(t testing.TB, config Config) (*Endpoint, *recordingDispatcher) {
	t.Helper()
	e, err := New(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	d := newRecordingDispatcher()
	e.Attach(d)
	return e, d
}

// socketPair returns two connected unix sockets of the given type (SOCK_STREAM or
// SOCK_DGRAM): the gateway's end and the guest's end.
func socketPair(t testing.TB, typ int) (gateway, guest net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		t.Cleanup(func() { _ = c.Close() })
	}
	return conns[0], conns[1]
}

// served is a guest connection being served; result receives Serve's return.
type served struct {
	guest  net.Conn
	result chan error
}

func serve(t testing.TB, e *Endpoint, typ int) *served {
	t.Helper()
	gw, guest := socketPair(t, typ)
	transport := framing.Qemu
	if typ == syscall.SOCK_DGRAM {
		transport = framing.Vfkit
	}
	s := &served{guest: guest, result: make(chan error, 1)}
	go func() { s.result <- e.Serve(gw, transport) }()
	waitFor(t, "guest attached", func() bool { return e.current.Load() != nil && e.current.Load().conn == gw })
	return s
}

func (s *served) wait(t testing.TB) error {
	t.Helper()
	return receive(t, s.result, "Serve did not return")
}

// closeGuest closes the guest's end and fails unless Serve then returns want (errors.Is).
func (s *served) closeGuest(t testing.TB, want error) {
	t.Helper()
	_ = s.guest.Close()
	if err := s.wait(t); !errors.Is(err, want) {
		t.Fatalf("after the guest closed, Serve returned %v, want %v", err, want)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// ethernetFrame builds a frame to dst with the given payload size; the payload bytes
// encode seq so frames can be told apart.
func ethernetFrame(dst tcpip.LinkAddress, payloadSize int, seq byte) []byte {
	frame := make([]byte, header.EthernetMinimumSize+payloadSize)
	header.Ethernet(frame).Encode(&header.EthernetFields{SrcAddr: guestMAC, DstAddr: dst, Type: header.IPv4ProtocolNumber})
	for i := header.EthernetMinimumSize; i < len(frame); i++ {
		frame[i] = seq + byte(i)
	}
	return frame
}

// expectFrames reads len(frames) frames from r and fails unless they are frames, in order.
func expectFrames(t *testing.T, r *streamReader, frames [][]byte) {
	t.Helper()
	for i, want := range frames {
		v, err := r.next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(v.AsSlice(), want) {
			t.Fatalf("frame %d differs", i)
		}
		v.Release()
	}
}

// streamEncode frames payloads with the QEMU length prefix.
func streamEncode(frames ...[]byte) []byte {
	var out []byte
	for _, f := range frames {
		out = framing.AppendFrame(out, f)
	}
	return out
}

// outboundPacket builds a packet as the stack hands it to WritePackets: a network
// header and a payload in separate views, then the Ethernet header from AddHeader.
func outboundPacket(e *Endpoint, protocol tcpip.NetworkProtocolNumber, netHeader, payload []byte) *stack.PacketBuffer {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: int(e.MaxHeaderLength()) + len(netHeader),
		Payload:            buffer.MakeWithData(payload),
	})
	copy(pkt.NetworkHeader().Push(len(netHeader)), netHeader)
	pkt.NetworkProtocolNumber = protocol
	pkt.EgressRoute.RemoteLinkAddress = guestMAC
	e.AddHeader(pkt)
	return pkt
}

// writePackets hands pkts to the endpoint in one batch and releases the test's refs.
func writePackets(t testing.TB, e *Endpoint, pkts ...*stack.PacketBuffer) {
	t.Helper()
	var list stack.PacketBufferList
	for _, p := range pkts {
		list.PushBack(p)
	}
	if n, err := e.WritePackets(list); err != nil || n != len(pkts) {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}
	for _, p := range pkts {
		p.DecRef()
	}
}

// flatten returns the frame bytes of pkt (Ethernet header onwards).
func flatten(pkt *stack.PacketBuffer) []byte {
	return bytes.Clone(pkt.ToView().AsSlice())
}

// readStreamFrame reads one length-prefixed frame from the guest's end.
func readStreamFrame(t testing.TB, conn net.Conn) []byte {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(testTimeout))
	var prefix [framing.PrefixSize]byte
	if _, err := io.ReadFull(conn, prefix[:]); err != nil {
		t.Fatalf("read length prefix: %v", err)
	}
	frame := make([]byte, binary.BigEndian.Uint32(prefix[:]))
	if _, err := io.ReadFull(conn, frame); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return frame
}

func isProtocolError(err error) bool {
	var perr *ProtocolError
	return errors.As(err, &perr)
}

func timeNowPlus() time.Time { return time.Now().Add(testTimeout) }

func waitForWriter() { time.Sleep(10 * time.Microsecond) }

func setBenchBuffers(conns ...net.Conn) {
	for _, c := range conns {
		if u, ok := c.(*net.UnixConn); ok {
			_ = u.SetReadBuffer(4 << 20)
			_ = u.SetWriteBuffer(4 << 20)
		}
	}
}
