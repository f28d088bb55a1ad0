package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"syscall"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/framing"
)

// fuzzMTU is small so that fuzzed lengths hit both sides of the limit often.
const fuzzMTU = 576

// collectingDispatcher keeps every delivered frame (unbounded, unlike the channel of
// recordingDispatcher, since a fuzzed stream may hold thousands of frames).
type collectingDispatcher struct {
	mu     sync.Mutex
	frames [][]byte
}

func (d *collectingDispatcher) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	frame := append(bytes.Clone(pkt.LinkHeader().Slice()), pkt.Data().AsRange().ToSlice()...)
	d.mu.Lock()
	d.frames = append(d.frames, frame)
	d.mu.Unlock()
}

func (d *collectingDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// expectedOutcome decodes a guest stream independently of the link: the frames the
// gateway must accept, and how the stream must end.
func expectedOutcome(data []byte, max int) (accepted [][]byte, end string) {
	for {
		switch {
		case len(data) == 0:
			return accepted, "eof"
		case len(data) < 4:
			return accepted, "truncated"
		}
		size := binary.BigEndian.Uint32(data)
		if size < header.EthernetMinimumSize || size > uint32(max) {
			return accepted, "protocol"
		}
		if uint32(len(data)-4) < size {
			return accepted, "truncated"
		}
		frame := data[4 : 4+size]
		if dst := header.Ethernet(frame).DestinationAddress(); dst == gatewayMAC || dst == header.EthernetBroadcastAddress {
			accepted = append(accepted, frame)
		}
		data = data[4+size:]
	}
}

func endOf(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, framing.ErrTruncated):
		return "truncated"
	case isProtocolError(err):
		return "protocol"
	}
	return "other: " + err.Error()
}

// FuzzStreamFrames feeds arbitrary bytes as a guest's stream: the link must never
// panic, must deliver exactly the well-formed frames addressed to the gateway (none
// larger than the MTU allows, so nothing larger is ever allocated), and must end the
// connection for the reason the bytes call for.
func FuzzStreamFrames(f *testing.F) {
	f.Add([]byte{})
	f.Add(prefixOnly(0))
	f.Add(prefixOnly(0xFFFFFFFF))
	f.Add(streamEncode(ethernetFrame(gatewayMAC, 46, 1), ethernetFrame(otherMAC, 0, 2)))
	f.Add(streamEncode(ethernetFrame(header.EthernetBroadcastAddress, fuzzMTU, 3))[:100])
	f.Add(append(streamEncode(ethernetFrame(gatewayMAC, 10, 4)), prefixOnly(fuzzMTU+15)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := New(Config{MTU: fuzzMTU, MAC: gatewayMAC, GatewayIP: gatewayIP})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		d := &collectingDispatcher{}
		e.Attach(d)
		gw, guest := socketPair(t, syscall.SOCK_STREAM)
		go func() {
			_, _ = guest.Write(data)
			_ = guest.(interface{ CloseWrite() error }).CloseWrite()
		}()
		got := endOf(e.Serve(gw, framing.Qemu))

		accepted, end := expectedOutcome(data, maxFrameSize(fuzzMTU))
		if got != end {
			t.Fatalf("stream ended with %s, want %s", got, end)
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.frames) != len(accepted) {
			t.Fatalf("%d frames delivered, want %d", len(d.frames), len(accepted))
		}
		for i := range accepted {
			if !bytes.Equal(d.frames[i], accepted[i]) {
				t.Fatalf("frame %d differs", i)
			}
		}
	})
}
