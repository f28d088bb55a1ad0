package link

import (
	"bytes"
	"io"
	"syscall"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"bun-gvproxy/framing"
)

// discardDispatcher is a stack that consumes packets instantly.
type discardDispatcher struct{}

func (discardDispatcher) DeliverNetworkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}
func (discardDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer)    {}

// repeatReader serves the same encoded stream forever.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// BenchmarkReceive measures the rx path (decode, validate, pooled buffer, packet,
// delivery) per frame, without the socket.
func BenchmarkReceive(b *testing.B) {
	for _, mtu := range []uint32{1500, 65520} {
		b.Run(sizeName(mtu), func(b *testing.B) {
			e, err := New(Config{MTU: mtu, MAC: gatewayMAC, GatewayIP: gatewayIP})
			if err != nil {
				b.Fatal(err)
			}
			e.Attach(discardDispatcher{})
			frame := ethernetFrame(gatewayMAC, int(mtu), 0)
			r := newStreamReader(&repeatReader{data: bytes.Repeat(streamEncode(frame), 16)}, e.maxFrame)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v, err := r.next()
				if err != nil {
					b.Fatal(err)
				}
				e.receive(v, nil)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// BenchmarkTransmit measures the tx path through a real unix socket whose peer drains
// it: queueing, batching and writev. batch is how many packets the stack hands over
// per WritePackets call.
func BenchmarkTransmit(b *testing.B) {
	for _, mtu := range []uint32{1500, 65520} {
		for _, batch := range []int{1, 16} {
			b.Run(sizeName(mtu)+"/batch="+itoa(batch), func(b *testing.B) {
				e, err := New(Config{MTU: mtu, MAC: gatewayMAC, GatewayIP: gatewayIP})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				gw, guest := socketPair(b, syscall.SOCK_STREAM)
				setBenchBuffers(gw, guest)
				go func() { _ = e.Serve(gw, framing.Qemu) }()
				go func() { _, _ = io.Copy(io.Discard, guest) }()
				waitFor(b, "attach", func() bool { return e.Stats().Attached })
				pkt := outboundPacket(e, header.IPv4ProtocolNumber, make([]byte, header.IPv4MinimumSize), make([]byte, int(mtu)-header.IPv4MinimumSize))
				defer pkt.DecRef()
				var list stack.PacketBufferList
				for i := 0; i < batch; i++ {
					list.PushBack(pkt)
				}
				b.SetBytes(int64(pkt.Size() * batch))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					// Keep the queue from overflowing: the benchmark measures the
					// link's throughput, not its drop policy.
					for e.queueHalfFull() {
						waitForWriter()
					}
					_, _ = e.WritePackets(list)
				}
				waitFor(b, "the queue to drain", func() bool { return e.queued() == 0 })
				b.StopTimer()
				s := e.Stats()
				b.ReportMetric(float64(s.FramesSent)/b.Elapsed().Seconds(), "frames/s")
				if s.TxDropped != 0 {
					b.Fatalf("%d frames dropped", s.TxDropped)
				}
			})
		}
	}
}

// queueHalfFull reports whether the send queue is over half its frame or byte bound.
func (e *Endpoint) queueHalfFull() bool {
	s := e.current.Load()
	if s == nil {
		return false
	}
	s.tx.mu.Lock()
	defer s.tx.mu.Unlock()
	return len(s.tx.pkts) > txQueueFrames/2 || s.tx.bytes > txQueueBytes/2
}

func (e *Endpoint) queued() int {
	s := e.current.Load()
	if s == nil {
		return 0
	}
	s.tx.mu.Lock()
	defer s.tx.mu.Unlock()
	return len(s.tx.pkts)
}

func sizeName(mtu uint32) string { return "mtu=" + itoa(int(mtu)) }

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
