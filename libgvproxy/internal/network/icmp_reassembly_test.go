package network

import (
	"bytes"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// echoMessage is an ICMP echo request (or another type) with size bytes of data.
func echoMessage(typ header.ICMPv4Type, size int) []byte {
	msg := make([]byte, header.ICMPv4MinimumSize+size)
	h := header.ICMPv4(msg)
	h.SetType(typ)
	h.SetIdent(0x4242)
	h.SetSequence(3)
	for i := range h.Payload() {
		h.Payload()[i] = byte(i * 7)
	}
	h.SetChecksum(^checksum.Checksum(msg, 0))
	return msg
}

// fragment is the IPv4 packet carrying msg[offset:end] of datagram id from the guest to
// dst; more sets the more-fragments flag.
func fragment(dst tcpip.Address, id uint16, msg []byte, offset, end int, more bool) []byte {
	b := make([]byte, header.IPv4MinimumSize+end-offset)
	ip := header.IPv4(b)
	var flags uint8
	if more {
		flags = header.IPv4FlagMoreFragments
	}
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(b)), ID: id, Flags: flags, FragmentOffset: uint16(offset), TTL: 64,
		Protocol: uint8(header.ICMPv4ProtocolNumber), SrcAddr: testGuest, DstAddr: dst})
	ip.SetChecksum(^ip.CalculateChecksum())
	copy(ip.Payload(), msg[offset:end])
	return b
}

// feed hands packets to r as the divert does and returns the message the last completed.
func feed(r *echoReassembly, packets ...[]byte) ([]byte, bool) {
	var msg []byte
	var complete bool
	for _, p := range packets {
		ip := header.IPv4(p)
		msg, complete = r.add(ip, ip.Payload())
	}
	return msg, complete
}

var reassemblyDst = tcpip.AddrFrom4([4]byte{192, 0, 2, 1})

func TestReassemblyJoinsFragmentsInAnyOrderAndToleratesExactRepeats(t *testing.T) {
	msg := echoMessage(header.ICMPv4Echo, 3000)
	a := fragment(reassemblyDst, 1, msg, 0, 1480, true)
	b := fragment(reassemblyDst, 1, msg, 1480, 2960, true)
	c := fragment(reassemblyDst, 1, msg, 2960, len(msg), false)
	orders := map[string][][]byte{
		"in order":            {a, b, c},
		"last first":          {c, a, b},
		"reversed":            {c, b, a},
		"with a repeat":       {a, a, b, c},
		"repeat of the last":  {c, c, b, a},
		"middle arrives last": {a, c, b},
	}
	for name, packets := range orders {
		t.Run(name, func(t *testing.T) {
			var r echoReassembly
			for i, p := range packets[:len(packets)-1] {
				if _, complete := feed(&r, p); complete {
					t.Fatalf("complete after %d of %d fragments", i+1, len(packets))
				}
			}
			got, complete := feed(&r, packets[len(packets)-1])
			if !complete || !bytes.Equal(got, msg) {
				t.Fatalf("reassembled %d bytes (complete %v), want the %d-byte message", len(got), complete, len(msg))
			}
			if len(r.pending) != 0 {
				t.Fatalf("%d datagrams still held after completion", len(r.pending))
			}
		})
	}
}

func TestReassemblyDropsADatagramWhoseFragmentsDisagree(t *testing.T) {
	msg := echoMessage(header.ICMPv4Echo, 3000)
	other := echoMessage(header.ICMPv4Echo, 3000)
	other[100] ^= 0xff
	cases := map[string][][]byte{
		"an overlap with different bytes":       {fragment(reassemblyDst, 2, msg, 0, 1480, true), fragment(reassemblyDst, 2, other, 8, 1488, true)},
		"the same offset, other bytes":          {fragment(reassemblyDst, 2, msg, 0, 1480, true), fragment(reassemblyDst, 2, other, 0, 1480, true)},
		"a second, different last":              {fragment(reassemblyDst, 2, msg, 1480, 2000, false), fragment(reassemblyDst, 2, msg, 1480, 2008, false)},
		"bytes past the last":                   {fragment(reassemblyDst, 2, msg, 2000, 2960, true), fragment(reassemblyDst, 2, msg, 1480, 1600, false)},
		"a middle fragment not a multiple of 8": {fragment(reassemblyDst, 2, msg, 0, 1479, true)},
	}
	for name, packets := range cases {
		t.Run(name, func(t *testing.T) {
			var r echoReassembly
			if _, complete := feed(&r, packets...); complete {
				t.Fatal("completed a datagram from disagreeing fragments")
			}
			if len(r.pending) != 0 {
				t.Fatalf("the datagram is still held (%d): dropped, not patched, is the rule", len(r.pending))
			}
		})
	}
}

func TestReassemblyKeepsDatagramsApartByAddressAndIdentification(t *testing.T) {
	msg := echoMessage(header.ICMPv4Echo, 2000)
	var r echoReassembly
	otherDst := tcpip.AddrFrom4([4]byte{192, 0, 2, 2})
	if _, complete := feed(&r, fragment(reassemblyDst, 7, msg, 0, 1480, true), fragment(otherDst, 7, msg, 1480, len(msg), false),
		fragment(reassemblyDst, 8, msg, 1480, len(msg), false)); complete {
		t.Fatal("fragments of different datagrams were joined")
	}
	if got, complete := feed(&r, fragment(reassemblyDst, 7, msg, 1480, len(msg), false)); !complete || !bytes.Equal(got, msg) {
		t.Fatal("the datagram's own last fragment did not complete it")
	}
}

func TestReassemblyIsBoundedInTimeAndCount(t *testing.T) {
	msg := echoMessage(header.ICMPv4Echo, 2000)
	now := time.Unix(1000, 0)
	r := echoReassembly{now: func() time.Time { return now }}

	feed(&r, fragment(reassemblyDst, 1, msg, 0, 1480, true))
	now = now.Add(reassemblyTimeout + time.Second)
	if _, complete := feed(&r, fragment(reassemblyDst, 1, msg, 1480, len(msg), false)); complete {
		t.Fatal("a datagram completed after its reassembly timeout")
	}

	r = echoReassembly{now: func() time.Time { return now }}
	for id := uint16(100); id < 100+reassemblyMaxPending+4; id++ {
		feed(&r, fragment(reassemblyDst, id, msg, 0, 1480, true))
		now = now.Add(time.Millisecond)
	}
	if len(r.pending) != reassemblyMaxPending {
		t.Fatalf("%d datagrams held, want at most %d", len(r.pending), reassemblyMaxPending)
	}
	if _, complete := feed(&r, fragment(reassemblyDst, 100, msg, 1480, len(msg), false)); complete {
		t.Fatal("the oldest datagram was kept past the bound")
	}
	if got, complete := feed(&r, fragment(reassemblyDst, 100+reassemblyMaxPending+3, msg, 1480, len(msg), false)); !complete || !bytes.Equal(got, msg) {
		t.Fatal("the newest datagram was not kept")
	}
}

func TestReassemblyDropsADatagramOfTooManyFragments(t *testing.T) {
	msg := echoMessage(header.ICMPv4Echo, 8*(reassemblyMaxFragments+1))
	var r echoReassembly
	for i := 0; i <= reassemblyMaxFragments; i++ { // one past the bound, the last one included
		last := i == reassemblyMaxFragments
		end := 8 * (i + 1)
		if last {
			end = len(msg)
		}
		if _, complete := feed(&r, fragment(reassemblyDst, 3, msg, 8*i, end, !last)); complete {
			t.Fatalf("completed a datagram of %d fragments, the bound is %d", i+1, reassemblyMaxFragments)
		}
	}
	if len(r.pending) != 0 {
		t.Fatal("the datagram is still held past the fragment bound")
	}
	// At the bound exactly it completes.
	msg = echoMessage(header.ICMPv4Echo, 8*(reassemblyMaxFragments-1))
	var got []byte
	var complete bool
	for i := 0; i < reassemblyMaxFragments; i++ {
		last := i == reassemblyMaxFragments-1
		end := 8 * (i + 1)
		if last {
			end = len(msg)
		}
		got, complete = feed(&r, fragment(reassemblyDst, 4, msg, 8*i, end, !last))
	}
	if !complete || !bytes.Equal(got, msg) {
		t.Fatalf("a datagram of exactly %d fragments did not complete", reassemblyMaxFragments)
	}
}

func TestReassemblyRefusesAPayloadBeyondIPv4s(t *testing.T) {
	var r echoReassembly
	last := make([]byte, header.IPv4MinimumSize+16)
	ip := header.IPv4(last)
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(last)), ID: 9, FragmentOffset: 0xfff8, TTL: 64,
		Protocol: uint8(header.ICMPv4ProtocolNumber), SrcAddr: testGuest, DstAddr: reassemblyDst})
	if _, complete := r.add(ip, ip.Payload()); complete || len(r.pending) != 0 {
		t.Fatalf("a fragment ending past 65,515 bytes was kept (complete %v, held %d)", complete, len(r.pending))
	}
}

// The divert forwards the echo request fragments complete, with the whole payload, and
// drops what they complete when it is not an echo request or fails its checksum.
func TestEchoDivertReassemblesFragmentedEchoRequests(t *testing.T) {
	packet := func(b []byte) *stack.PacketBuffer {
		return stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)})
	}
	divert := func(d *echoDivert, msg []byte) (*echoRequest, bool) {
		var req *echoRequest
		var diverted bool
		for _, p := range [][]byte{fragment(reassemblyDst, 5, msg, 0, 1480, true), fragment(reassemblyDst, 5, msg, 1480, len(msg), false)} {
			pkt := packet(p)
			req, diverted = d.echoRequestOf(pkt)
			pkt.DecRef()
			if !diverted {
				t.Fatal("a fragment of an ICMP message to an outside address was left to the stack")
			}
		}
		return req, diverted
	}
	echo := echoMessage(header.ICMPv4Echo, 2000)
	req, _ := divert(&echoDivert{gateway: testGateway, broadcast: testBroadcast}, echo)
	if req == nil || req.ident != 0x4242 || req.seq != 3 || !bytes.Equal(req.payload, header.ICMPv4(echo).Payload()) {
		t.Fatalf("request %+v, want the whole echo request", req)
	}
	if req, _ := divert(&echoDivert{gateway: testGateway, broadcast: testBroadcast}, echoMessage(header.ICMPv4EchoReply, 2000)); req != nil {
		t.Fatal("a reassembled echo reply was forwarded")
	}
	bad := echoMessage(header.ICMPv4Echo, 2000)
	bad[1500] ^= 1
	if req, _ := divert(&echoDivert{gateway: testGateway, broadcast: testBroadcast}, bad); req != nil {
		t.Fatal("a reassembled request with a bad checksum was forwarded")
	}
}
