package link

import (
	"bytes"
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// offloadedPacket builds what gVisor's TCP hands a host-GSO link: headers with a
// pseudo-header-only checksum and a payload spread over views of awkward (odd) sizes.
func offloadedPacket(e *Endpoint, mss uint16, flags header.TCPFlags, parts ...[]byte) (*stack.PacketBuffer, []byte) {
	var payload buffer.Buffer
	var all []byte
	for _, p := range parts {
		_ = payload.Append(buffer.NewViewWithData(p))
		all = append(all, p...)
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: header.EthernetMinimumSize + header.IPv4MinimumSize + header.TCPMinimumSize,
		Payload:            payload,
	})
	tcpLen := header.TCPMinimumSize + len(all)
	tcp := header.TCP(pkt.TransportHeader().Push(header.TCPMinimumSize))
	tcp.Encode(&header.TCPFields{SrcPort: 80, DstPort: 40000, SeqNum: 1000, AckNum: 7, DataOffset: header.TCPMinimumSize, Flags: flags, WindowSize: 512})
	tcp.SetChecksum(header.PseudoHeaderChecksum(header.TCPProtocolNumber, gatewayIP, guestIP, uint16(tcpLen)))
	ip := header.IPv4(pkt.NetworkHeader().Push(header.IPv4MinimumSize))
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(header.IPv4MinimumSize + tcpLen), ID: 100, TTL: 64, Protocol: uint8(header.TCPProtocolNumber), SrcAddr: gatewayIP, DstAddr: guestIP})
	ip.SetChecksum(^ip.CalculateChecksum())
	pkt.NetworkProtocolNumber = header.IPv4ProtocolNumber
	pkt.TransportProtocolNumber = header.TCPProtocolNumber
	pkt.EgressRoute.RemoteLinkAddress = guestMAC
	pkt.GSOOptions = stack.GSO{Type: stack.GSOTCPv4, NeedsCsum: true, CsumOffset: header.TCPChecksumOffset, MSS: mss, L3HdrLen: header.IPv4MinimumSize}
	e.AddHeader(pkt)
	return pkt, all
}

// decodeFrames splits an encoded batch (stream framing) into frames.
func decodeFrames(t *testing.T, enc *batchEncoder) [][]byte {
	t.Helper()
	var wire []byte
	for _, s := range enc.iov {
		wire = append(wire, s...)
	}
	r := newStreamReader(bytes.NewReader(wire), buffer.MaxChunkSize)
	var frames [][]byte
	for {
		v, err := r.next()
		if err != nil {
			return frames
		}
		frames = append(frames, bytes.Clone(v.AsSlice()))
		v.Release()
	}
}

func validTCP(frame []byte) (header.IPv4, header.TCP, bool) {
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	if !ip.IsValid(len(ip)) || !ip.IsChecksumValid() {
		return nil, nil, false
	}
	tcp := header.TCP(ip.Payload())
	payload := tcp[tcp.DataOffset():]
	return ip, tcp, tcp.IsChecksumValid(ip.SourceAddress(), ip.DestinationAddress(), checksum.Checksum(payload, 0), uint16(len(payload)))
}

// An offloaded packet becomes MSS-sized segments: consecutive sequence numbers and IP
// IDs, valid checksums however the payload's views split, FIN and PSH on the last
// segment only, and the payload intact.
func TestAnOffloadedPacketIsCutIntoValidSegments(t *testing.T) {
	e, _, _ := newTestEndpoint(t, testMTU)
	parts := [][]byte{pattern(1), pattern(333), pattern(1000), pattern(2999)}
	pkt, payload := offloadedPacket(e, 1001, header.TCPFlagAck|header.TCPFlagPsh|header.TCPFlagFin, parts...)
	defer pkt.DecRef()
	enc := batchEncoder{prefixed: true}
	enc.encode([]*stack.PacketBuffer{pkt})
	frames := decodeFrames(t, &enc)
	if len(frames) != 5 || len(enc.frames) != 5 {
		t.Fatalf("%d frames (%d spans), want 5", len(frames), len(enc.frames))
	}
	var joined []byte
	for i, f := range frames {
		ip, tcp, ok := validTCP(f)
		if !ok {
			t.Fatalf("segment %d: invalid checksum", i)
		}
		if want := uint32(1000 + 1001*i); tcp.SequenceNumber() != want {
			t.Fatalf("segment %d: seq %d, want %d", i, tcp.SequenceNumber(), want)
		}
		if ip.ID() != uint16(100+i) {
			t.Fatalf("segment %d: IP ID %d", i, ip.ID())
		}
		last := i == len(frames)-1
		if fin := tcp.Flags()&(header.TCPFlagFin|header.TCPFlagPsh) != 0; fin != last {
			t.Fatalf("segment %d: flags %s", i, tcp.Flags())
		}
		if tcp.Flags()&header.TCPFlagAck == 0 {
			t.Fatalf("segment %d lost the ACK flag", i)
		}
		joined = append(joined, tcp[tcp.DataOffset():]...)
	}
	if !bytes.Equal(joined, payload) {
		t.Fatal("the segments' payload differs from the packet's")
	}
}

// A packet that fits one MSS is sent whole with its checksum completed.
func TestAnOffloadedPacketWithinTheMSSGetsItsChecksumCompleted(t *testing.T) {
	e, _, _ := newTestEndpoint(t, testMTU)
	pkt, payload := offloadedPacket(e, 1460, header.TCPFlagAck, pattern(7), pattern(500))
	defer pkt.DecRef()
	enc := batchEncoder{prefixed: true}
	enc.encode([]*stack.PacketBuffer{pkt})
	frames := decodeFrames(t, &enc)
	if len(frames) != 1 {
		t.Fatalf("%d frames, want 1", len(frames))
	}
	_, tcp, ok := validTCP(frames[0])
	if !ok || !bytes.Equal(tcp[tcp.DataOffset():], payload) {
		t.Fatalf("checksum valid %v, payload intact %v", ok, bytes.Equal(tcp[tcp.DataOffset():], payload))
	}
}
