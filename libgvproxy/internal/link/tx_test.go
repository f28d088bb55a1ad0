package link

import (
	"bytes"
	"io"
	"syscall"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// A batch of packets made of several views each comes out as length+frame pairs, in
// order, byte for byte.
func TestABatchIsWrittenAsOneFramedSequence(t *testing.T) {
	e, _, _ := newTestEndpoint(t, 9000)
	g := serve(t, e, syscall.SOCK_STREAM)
	var pkts []*stack.PacketBuffer
	var want [][]byte
	for i, size := range []int{0, 1, 46, 1460, 8980, 3, 512} {
		pkt := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), bytes.Repeat([]byte{byte(i)}, size))
		pkts = append(pkts, pkt)
		want = append(want, flatten(pkt))
	}
	writePackets(t, e, pkts...)
	for i, w := range want {
		if got := readStreamFrame(t, g.guest); !bytes.Equal(got, w) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, len(got), len(w))
		}
	}
	waitFor(t, "the sends to be counted", func() bool { return e.Stats().FramesSent == uint64(len(want)) })
	if s := e.Stats(); s.TxDropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Many writers at once (the stack calls WritePackets from many goroutines): every
// frame arrives whole, none is interleaved with another.
func TestConcurrentWritersProduceWholeFrames(t *testing.T) {
	const writers, each = 4, 500
	e, _, _ := newTestEndpoint(t, testMTU)
	g := serve(t, e, syscall.SOCK_STREAM)
	for w := 0; w < writers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				pkt := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), bytes.Repeat([]byte{byte(w)}, 100+w*300))
				writePackets(t, e, pkt)
			}
		}()
	}
	seen := make([]int, writers)
	for n := 0; n < writers*each; n++ {
		frame := readStreamFrame(t, g.guest)
		payload := frame[header.EthernetMinimumSize+header.IPv4MinimumSize:]
		w := int(payload[0])
		if w >= writers || len(payload) != 100+w*300 || !bytes.Equal(payload, bytes.Repeat([]byte{byte(w)}, len(payload))) {
			t.Fatalf("frame %d is not one writer's whole frame (%d bytes)", n, len(payload))
		}
		seen[w]++
	}
	for w, n := range seen {
		if n != each {
			t.Fatalf("writer %d: %d frames arrived, want %d", w, n, each)
		}
	}
}

// A guest that stops reading cannot make the stack block: once the socket and the
// queue are full, frames are dropped and counted, and WritePackets keeps returning.
func TestAGuestThatStopsReadingCausesDropsNotAStall(t *testing.T) {
	e, _, _ := newTestEndpoint(t, testMTU)
	g := serve(t, e, syscall.SOCK_STREAM)
	payload := make([]byte, 1400)
	for e.Stats().TxDropped == 0 {
		pkt := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), payload)
		writePackets(t, e, pkt)
	}
	// The guest reads again: the link still works.
	_ = g.guest.SetReadDeadline(timeNowPlus())
	if _, err := io.ReadFull(g.guest, make([]byte, 4)); err != nil {
		t.Fatalf("read after the overflow: %v", err)
	}
}

// The queue holds its own reference to each packet and releases it once written, so
// the caller may release its own right after WritePackets.
func TestQueuedPacketsOutliveTheCallersReference(t *testing.T) {
	e, _, _ := newTestEndpoint(t, testMTU)
	g := serve(t, e, syscall.SOCK_STREAM)
	pkt := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), []byte("still here"))
	want := flatten(pkt)
	writePackets(t, e, pkt) // releases the test's reference
	if got := readStreamFrame(t, g.guest); !bytes.Equal(got, want) {
		t.Fatal("the frame changed after the caller released it")
	}
}
