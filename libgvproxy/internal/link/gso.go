package link

import (
	"math"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The link offers TCP segmentation offload to the stack (what gVisor calls host GSO):
// TCP hands over segments of up to gsoMaxSize bytes with only the pseudo-header part
// of the checksum, and the link cuts them into MSS-sized frames (tso.go). One trip
// through the stack's TCP/IP send path then carries up to 64 KiB instead of one MSS,
// and the payload is never copied: each frame is a header copy plus slices of the
// packet's own payload, written with the batch's single writev.
//
// gsoMaxSize keeps the largest offloaded packet a valid IPv4 packet: TCP sends at most
// gsoMaxSize - 61 payload bytes, plus up to 60 bytes of TCP and 20 of IP header.
const gsoMaxSize = math.MaxUint16 - header.IPv4MaximumHeaderSize

var _ stack.GSOEndpoint = (*Endpoint)(nil)

// GSOMaxSize implements stack.GSOEndpoint.
func (e *Endpoint) GSOMaxSize() uint32 { return gsoMaxSize }

// SupportedGSO implements stack.GSOEndpoint.
func (e *Endpoint) SupportedGSO() stack.SupportedGSO { return stack.HostGSOSupported }

// tcpOffload describes an outbound packet the link must finish: a TCP/IPv4 packet
// built for offload (its TCP checksum holds only the pseudo-header sum), to be cut
// into segments of mss payload bytes.
type tcpOffload struct {
	link, ip, tcp []byte // the packet's headers, in place
	payload       int    // payload bytes after the TCP header
	mss           int
}

// offloadOf returns the offload work pkt needs; ok is false for a packet to send as is.
func offloadOf(pkt *stack.PacketBuffer) (o tcpOffload, ok bool) {
	gso := pkt.GSOOptions
	if gso.Type != stack.GSOTCPv4 || !gso.NeedsCsum {
		return o, false
	}
	o.link = pkt.LinkHeader().Slice()
	o.ip = pkt.NetworkHeader().Slice()
	o.tcp = pkt.TransportHeader().Slice()
	if len(o.link) != header.EthernetMinimumSize || len(o.ip) < header.IPv4MinimumSize || len(o.tcp) < header.TCPMinimumSize {
		return o, false // not what TCP builds; leave it alone
	}
	o.payload = pkt.Data().Size()
	o.mss = int(gso.MSS)
	if o.mss <= 0 {
		o.mss = o.payload
	}
	return o, true
}

// segments is how many frames the packet becomes.
func (o *tcpOffload) segments() int {
	if o.payload <= o.mss {
		return 1
	}
	return (o.payload + o.mss - 1) / o.mss
}

func (o *tcpOffload) headerLen() int { return len(o.link) + len(o.ip) + len(o.tcp) }

// finishChecksum completes, in place, the TCP checksum of a packet sent whole: the
// field holds the pseudo-header sum, so summing header and payload over it and
// complementing gives the final value (Linux's CHECKSUM_PARTIAL).
func (o *tcpOffload) finishChecksum(payload [][]byte) {
	var c checksum.Checksumer
	c.Add(o.tcp)
	for _, p := range payload {
		c.Add(p)
	}
	header.TCP(o.tcp).SetChecksum(^c.Checksum())
}

// segmentHeader writes into hdr (headerLen bytes) the headers of segment i, which
// carries n payload bytes starting at payload offset off, all but the TCP checksum,
// which depends on the payload (sealSegment).
func (o *tcpOffload) segmentHeader(hdr []byte, i, off, n int) header.TCP {
	copy(hdr, o.link)
	ip := header.IPv4(hdr[len(o.link) : len(o.link)+len(o.ip)])
	copy(ip, o.ip)
	tcp := header.TCP(hdr[len(o.link)+len(o.ip):])
	copy(tcp, o.tcp)

	ip.SetTotalLength(uint16(len(o.ip) + len(o.tcp) + n))
	ip.SetID(header.IPv4(o.ip).ID() + uint16(i))
	ip.SetChecksum(0)
	ip.SetChecksum(^ip.CalculateChecksum())

	tcp.SetSequenceNumber(header.TCP(o.tcp).SequenceNumber() + uint32(off))
	if off+n < o.payload { // FIN and PSH belong to the last segment only
		tcp.SetFlags(uint8(header.TCP(o.tcp).Flags() &^ (header.TCPFlagFin | header.TCPFlagPsh)))
	}
	tcp.SetChecksum(0)
	return tcp
}

// sealSegment sets a segment's TCP checksum from its header and payload slices.
func (o *tcpOffload) sealSegment(tcp header.TCP, payload [][]byte, n int) {
	var c checksum.Checksumer
	c.Add(tcp)
	for _, p := range payload {
		c.Add(p)
	}
	ip := header.IPv4(o.ip)
	pseudo := header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(tcp)+n))
	tcp.SetChecksum(^checksum.Combine(pseudo, c.Checksum()))
}
