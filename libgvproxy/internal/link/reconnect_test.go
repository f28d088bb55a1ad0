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

// A VM that goes away and comes back (a reboot) is served by the same endpoint; while
// no guest is attached, frames for it are dropped and counted.
func TestAGuestThatReconnectsIsServedAgain(t *testing.T) {
	e, d, _ := newTestEndpoint(t, testMTU)
	first := serve(t, e, syscall.SOCK_STREAM)
	first.closeGuest(t, io.EOF)
	if e.Stats().Attached {
		t.Fatal("still attached after the guest left")
	}

	orphan := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), []byte("nobody"))
	writePackets(t, e, orphan)
	if s := e.Stats(); s.TxDropped != 1 || s.FramesSent != 0 {
		t.Fatalf("stats while detached %+v, want 1 tx drop", s)
	}

	second := serve(t, e, syscall.SOCK_STREAM)
	pkt := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), []byte("hello again"))
	want := flatten(pkt)
	writePackets(t, e, pkt)
	if got := readStreamFrame(t, second.guest); !bytes.Equal(got, want) {
		t.Fatal("the reconnected guest got a different frame (or the orphan)")
	}
	_, _ = second.guest.Write(streamEncode(ethernetFrame(gatewayMAC, 20, 9)))
	d.next(t)
	if s := e.Stats(); s.Attachments != 2 || !s.Attached {
		t.Fatalf("stats %+v, want 2 attachments", s)
	}
}

// A second connection replaces the attached one: the first is closed and its Serve
// returns; frames go to the newcomer only.
func TestANewGuestConnectionReplacesTheAttachedOne(t *testing.T) {
	e, _, _ := newTestEndpoint(t, testMTU)
	first := serve(t, e, syscall.SOCK_STREAM)
	second := serve(t, e, syscall.SOCK_STREAM)
	if err := first.wait(t); !errors.Is(err, errReplaced) {
		t.Fatalf("first guest's Serve returned %v, want errReplaced", err)
	}
	if _, err := first.guest.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the replaced guest's connection: %v, want EOF", err)
	}
	pkt := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), []byte("to the new one"))
	want := flatten(pkt)
	writePackets(t, e, pkt)
	if got := readStreamFrame(t, second.guest); !bytes.Equal(got, want) {
		t.Fatal("the new guest did not get the frame")
	}
}

// Closing the endpoint (the stack removing its NIC) detaches the guest and refuses
// new ones.
func TestClosingTheEndpointDetachesTheGuestAndRefusesNewOnes(t *testing.T) {
	e, _, _ := newTestEndpoint(t, testMTU)
	g := serve(t, e, syscall.SOCK_STREAM)
	e.Close()
	if err := g.wait(t); !errors.Is(err, errEndpointClosed) {
		t.Fatalf("Serve returned %v, want errEndpointClosed", err)
	}
	gw, guest := socketPair(t, syscall.SOCK_STREAM)
	if err := e.Serve(gw, framing.Qemu); !errors.Is(err, errEndpointClosed) {
		t.Fatalf("Serve after Close returned %v", err)
	}
	if _, err := guest.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("a refused guest's connection: %v, want EOF", err)
	}
}
