package network

import (
	"net"
	"time"

	"golang.org/x/net/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// A guest that sends small datagrams fast queues many on its flow's gVisor endpoint
// while the relay writes one. Writing each to the host socket with its own write(2)
// made the syscall a third of the process's CPU at 64 B (BENCHMARKS.md, "Where the time
// goes"), so guest -> host the relay takes, after each blocking read, what is already
// queued (without waiting) and sends the lot with one sendmmsg(2).
const (
	udpBatchMax = 64
	// udpBatchArena holds the batch's datagrams back to back; a datagram is read only
	// while a whole largest one still fits, so none is cut short by the arena. Past
	// the first, the batch has 32 KiB: 64 small datagrams, or about 23 of 1,400 B.
	udpBatchArena = udpBufferSize + 32<<10
)

// udpBatch is one guest -> host relay's batch: datagrams read from the guest's
// endpoint into arena, and the messages naming them.
type udpBatch struct {
	ep    tcpip.Endpoint
	host  *ipv4.PacketConn
	arena []byte
	msgs  []ipv4.Message
	bufs  [][]byte
}

func newUDPBatch(ep tcpip.Endpoint, host *net.UDPConn) *udpBatch {
	b := &udpBatch{
		ep:    ep,
		host:  ipv4.NewPacketConn(host),
		arena: make([]byte, udpBatchArena),
		msgs:  make([]ipv4.Message, udpBatchMax),
		bufs:  make([][]byte, udpBatchMax),
	}
	for i := range b.msgs {
		b.msgs[i].Buffers = b.bufs[i : i+1 : i+1]
	}
	return b
}

// first is where the blocking read puts the batch's first datagram.
func (b *udpBatch) first() []byte { return b.arena[:udpBufferSize] }

// gather takes the first datagram (n bytes in first()) and whatever else the endpoint
// has queued, without waiting, and returns how many datagrams and bytes the batch
// holds. A read that fails (nothing queued, or the endpoint closed) ends the batch;
// the next blocking read reports a closed endpoint.
func (b *udpBatch) gather(n int) (count, bytes int) {
	b.bufs[0] = b.arena[:n]
	count, off := 1, n
	for count < udpBatchMax && len(b.arena)-off >= udpBufferSize {
		w := tcpip.SliceWriter(b.arena[off : off+udpBufferSize])
		res, err := b.ep.Read(&w, tcpip.ReadOptions{})
		if err != nil {
			break
		}
		b.bufs[count] = b.arena[off : off+res.Count]
		off += res.Count
		count++
	}
	return count, off
}

// send writes the batch's count datagrams to the host socket. A datagram the socket
// refuses with a transient error (an earlier datagram's ICMP port unreachable) is
// dropped, as a lone write would drop it, and the rest still go; any other error ends
// the relay.
func (b *udpBatch) send(count int) error {
	for i := 0; i < count; {
		n, err := b.host.WriteBatch(b.msgs[i:count], 0)
		// sendmmsg(2) failing on the first message of the call reports -1.
		i += max(n, 0)
		if err == nil {
			continue
		}
		if !isTransientUDP(err) {
			return err
		}
		if n <= 0 {
			i++
		}
	}
	return nil
}

// relayFromGuest is relay for the guest -> host direction, batched. src is the
// guest's gonet connection over b.ep: its blocking read keeps the idle deadline and
// the close semantics of relay.
func (f *udpFlow) relayFromGuest(src net.Conn, b *udpBatch) {
	defer f.close()
	_ = src.SetReadDeadline(time.Unix(0, f.lastSeen.Load()).Add(udpIdleTimeout))
	for {
		nr, err := src.Read(b.first())
		if err != nil {
			if f.keepReading(src, err) {
				continue
			}
			return
		}
		f.lastSeen.Store(time.Now().UnixNano())
		count, bytes := b.gather(nr)
		if err := b.send(count); err != nil {
			return
		}
		f.aToB.Add(uint64(bytes))
	}
}
