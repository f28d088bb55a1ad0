package link

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"

	"bun-gvproxy/framing"
)

func TestStreamReaderDecodesWhatTheGuestFramed(t *testing.T) {
	max := maxFrameSize(testMTU)
	frames := [][]byte{
		ethernetFrame(gatewayMAC, 0, 1), // the smallest frame: a bare Ethernet header
		ethernetFrame(gatewayMAC, 46, 2),
		ethernetFrame(gatewayMAC, testMTU, 3), // the largest at this MTU
	}
	r := newStreamReader(bytes.NewReader(streamEncode(frames...)), max)
	expectFrames(t, r, frames)
	if _, err := r.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

func TestMaxFrameSizeIsTheMTUPlusTheEthernetHeaderAndFitsAPooledChunk(t *testing.T) {
	for _, mtu := range []uint32{576, 1500, 9000, 65520} {
		if got, want := maxFrameSize(mtu), int(mtu)+header.EthernetMinimumSize; got != want {
			t.Fatalf("MTU %d: max frame %d, want %d", mtu, got, want)
		}
	}
}

func TestNewRejectsAnInvalidMACOrMTU(t *testing.T) {
	if _, err := New(Config{MTU: testMTU, MAC: "short"}); err == nil {
		t.Fatal("a 5-byte MAC was accepted")
	}
	for _, mtu := range []uint32{0, 67, 65521} {
		if _, err := New(Config{MTU: mtu, MAC: gatewayMAC}); err == nil {
			t.Fatalf("MTU %d was accepted", mtu)
		}
	}
}

// Frames round-trip through the endpoint in both directions on a real socket.
func TestFramesRoundTripThroughTheEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  int
	}{{"stream", syscall.SOCK_STREAM}, {"datagram", syscall.SOCK_DGRAM}} {
		t.Run(tc.name, func(t *testing.T) {
			e, d, _ := newTestEndpoint(t, testMTU)
			g := serve(t, e, tc.typ)

			in := ethernetFrame(gatewayMAC, 1000, 7)
			if tc.typ == syscall.SOCK_STREAM {
				_, _ = g.guest.Write(streamEncode(in))
			} else {
				_, _ = g.guest.Write(in)
			}
			got := d.next(t)
			if got.protocol != header.IPv4ProtocolNumber || !bytes.Equal(got.frame, in) {
				t.Fatalf("stack got protocol %d, %d bytes; want IPv4 and the frame sent", got.protocol, len(got.frame))
			}

			pkt := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), bytes.Repeat([]byte{0xab}, 1200))
			want := flatten(pkt)
			writePackets(t, e, pkt)
			var out []byte
			if tc.typ == syscall.SOCK_STREAM {
				out = readStreamFrame(t, g.guest)
			} else {
				out = make([]byte, 2000)
				n, err := g.guest.Read(out)
				if err != nil {
					t.Fatal(err)
				}
				out = out[:n]
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("guest got %d bytes, want the %d-byte frame", len(out), len(want))
			}
			eth := header.Ethernet(out)
			if eth.SourceAddress() != gatewayMAC || eth.DestinationAddress() != guestMAC || eth.Type() != header.IPv4ProtocolNumber {
				t.Fatalf("Ethernet header src %s dst %s type %d", eth.SourceAddress(), eth.DestinationAddress(), eth.Type())
			}
			waitFor(t, "the send to be counted", func() bool { return e.Stats().FramesSent == 1 })
			s := e.Stats()
			if s.FramesReceived != 1 || s.BytesReceived != uint64(len(in)) || s.FramesSent != 1 || s.BytesSent != uint64(len(want)) {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// Large frames (read straight into their buffers) decode like small ones, mixed in any
// order, and a large frame cut short is reported as truncated.
func TestStreamReaderHandlesLargeFramesAndTheirTruncation(t *testing.T) {
	max := maxFrameSize(65520)
	frames := [][]byte{
		ethernetFrame(gatewayMAC, 65520, 1),
		ethernetFrame(gatewayMAC, 10, 2),
		ethernetFrame(gatewayMAC, 40000, 3),
		ethernetFrame(gatewayMAC, 65520, 4),
	}
	wire := streamEncode(frames...)
	gw, guest := socketPair(t, syscall.SOCK_STREAM)
	go func() {
		_, _ = guest.Write(wire)
		_, _ = guest.Write(streamEncode(ethernetFrame(gatewayMAC, 50000, 5))[:30000])
		_ = guest.Close()
	}()
	r := newStreamReader(gw, max)
	expectFrames(t, r, frames)
	if _, err := r.next(); !errors.Is(err, framing.ErrTruncated) {
		t.Fatalf("a cut-short large frame: %v, want framing.ErrTruncated", err)
	}
}
