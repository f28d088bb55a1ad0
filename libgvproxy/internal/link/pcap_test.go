package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"syscall"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// readPCAP parses a capture and returns its link type and frames.
func readPCAP(t *testing.T, b []byte) (linkType uint32, frames [][]byte) {
	t.Helper()
	if len(b) < pcapFileHeaderSize || binary.LittleEndian.Uint32(b) != pcapMagic {
		t.Fatalf("not a pcap file (%d bytes)", len(b))
	}
	linkType = binary.LittleEndian.Uint32(b[20:])
	for rest := b[pcapFileHeaderSize:]; len(rest) > 0; {
		if len(rest) < pcapRecordHeader {
			t.Fatalf("%d trailing bytes", len(rest))
		}
		capLen := binary.LittleEndian.Uint32(rest[8:])
		origLen := binary.LittleEndian.Uint32(rest[12:])
		if capLen != origLen || int(capLen) > len(rest)-pcapRecordHeader {
			t.Fatalf("record lengths %d/%d with %d bytes left", capLen, origLen, len(rest))
		}
		frames = append(frames, rest[pcapRecordHeader:pcapRecordHeader+capLen])
		rest = rest[pcapRecordHeader+capLen:]
	}
	return linkType, frames
}

// The capture is an Ethernet pcap of exactly the frames that crossed the guest
// connection, both directions, including frames the gateway then dropped.
func TestCaptureRecordsEthernetFramesBothWays(t *testing.T) {
	var capture bytes.Buffer
	e, d := newAttachedEndpoint(t, Config{MTU: testMTU, MAC: gatewayMAC, GatewayIP: gatewayIP, Capture: &capture})
	g := serve(t, e, syscall.SOCK_STREAM)

	in := ethernetFrame(gatewayMAC, 64, 1)
	foreign := ethernetFrame(otherMAC, 10, 2)
	_, _ = g.guest.Write(streamEncode(foreign, in))
	d.next(t)
	pkt := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), []byte("out"))
	out := flatten(pkt)
	writePackets(t, e, pkt)
	readStreamFrame(t, g.guest)
	e.Close()
	_ = g.wait(t)

	linkType, frames := readPCAP(t, capture.Bytes())
	if linkType != linkTypeEthernet {
		t.Fatalf("link type %d, want %d (Ethernet)", linkType, linkTypeEthernet)
	}
	want := [][]byte{foreign, in, out}
	if len(frames) != len(want) {
		t.Fatalf("%d frames captured, want %d", len(frames), len(want))
	}
	for i := range want {
		if !bytes.Equal(frames[i], want[i]) {
			t.Fatalf("captured frame %d differs", i)
		}
	}
}

// A capture that cannot be written (disk full) stops capturing; the link keeps going.
func TestACaptureWriteErrorStopsCapturingNotTheLink(t *testing.T) {
	w := &failingWriter{}
	e, d := newAttachedEndpoint(t, Config{MTU: testMTU, MAC: gatewayMAC, GatewayIP: gatewayIP, Capture: w})
	g := serve(t, e, syscall.SOCK_STREAM)
	w.fail = true
	_, _ = g.guest.Write(streamEncode(ethernetFrame(gatewayMAC, 10, 1), ethernetFrame(gatewayMAC, 10, 2)))
	d.next(t)
	d.next(t)
	if w.writes != 2 { // the header, then one failed record; no further attempts
		t.Fatalf("%d writes to the capture, want 2", w.writes)
	}
}

type failingWriter struct {
	fail   bool
	writes int
}

func (w *failingWriter) Write(b []byte) (int, error) {
	w.writes++
	if w.fail {
		return 0, errors.New("no space left on device")
	}
	return len(b), nil
}
