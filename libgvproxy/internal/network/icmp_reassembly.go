package network

import (
	"bytes"
	"sort"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Bounds of echoReassembly: what a guest can make the network hold, and work through,
// with fragments. 16 datagrams of at most one IPv4 payload each is 1 MiB at worst; 64
// fragments carry the largest ping at an MTU of 1,100 or more, and keep each insertion
// into a datagram's sorted parts short (thousands of 8-byte fragments would not); the
// timeout is the one IPv4 reassembly uses (RFC 791's upper bound, Linux's and gVisor's
// default).
const (
	reassemblyMaxPending   = 16
	reassemblyMaxFragments = 64
	reassemblyTimeout      = 30 * time.Second
	maxIPv4Payload         = 0xffff - header.IPv4MinimumSize
)

// echoReassembly puts back together the ICMP messages a guest sent in fragments to
// addresses the echo divert takes (a ping larger than the guest's MTU). They cannot be
// left to the stack's own reassembly: the whole message would reach the stack's ICMP,
// which answers a ping to any address itself. Fragments that overlap, unless one
// repeats another exactly, drop their datagram (RFC 5722's rule for IPv6: an overlap
// is never a fragment lost and sent again, only an attempt to slip different bytes past
// a check). The zero value is ready to use.
type echoReassembly struct {
	mu      sync.Mutex
	pending map[fragmentKey]*fragmentedMessage
	now     func() time.Time // time.Now unless a test sets it
}

// fragmentKey names one datagram's fragments (RFC 791: source, destination, protocol
// and identification; the protocol is always ICMP here).
type fragmentKey struct {
	src, dst tcpip.Address
	id       uint16
}

// fragmentedMessage is what has arrived of one datagram.
type fragmentedMessage struct {
	started time.Time
	parts   []fragmentPart // sorted by offset, never overlapping
	held    int            // bytes in parts
	end     int            // the payload's length once its last fragment came, else -1
}

type fragmentPart struct {
	offset int
	data   []byte
}

// add takes one fragment of an ICMP datagram (ip its IPv4 header, payload its bytes
// after the header) and returns the whole ICMP message once every fragment has arrived.
func (r *echoReassembly) add(ip header.IPv4, payload []byte) ([]byte, bool) {
	key := fragmentKey{src: ip.SourceAddress(), dst: ip.DestinationAddress(), id: ip.ID()}
	offset, more := int(ip.FragmentOffset()), ip.More()
	end := offset + len(payload)
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	r.expire(now)
	if end > maxIPv4Payload || (more && len(payload)%8 != 0) || len(payload) == 0 {
		delete(r.pending, key) // not a fragment any datagram can have
		return nil, false
	}
	m := r.message(key, now)
	if !m.insert(offset, payload) || !m.setEnd(end, more) {
		delete(r.pending, key)
		return nil, false
	}
	if m.end < 0 || m.held != m.end {
		return nil, false
	}
	delete(r.pending, key)
	return m.assemble(), true
}

func (r *echoReassembly) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// expire drops the datagrams whose first fragment came longer than the timeout ago.
func (r *echoReassembly) expire(now time.Time) {
	for key, m := range r.pending {
		if now.Sub(m.started) > reassemblyTimeout {
			delete(r.pending, key)
		}
	}
}

// message is the datagram of key, begun now if it is new; the oldest one makes room
// when reassemblyMaxPending are under way.
func (r *echoReassembly) message(key fragmentKey, now time.Time) *fragmentedMessage {
	if m, ok := r.pending[key]; ok {
		return m
	}
	if r.pending == nil {
		r.pending = make(map[fragmentKey]*fragmentedMessage)
	}
	if len(r.pending) >= reassemblyMaxPending {
		var oldest *fragmentKey
		for k, m := range r.pending {
			if oldest == nil || m.started.Before(r.pending[*oldest].started) {
				oldest = &k
			}
		}
		delete(r.pending, *oldest)
	}
	m := &fragmentedMessage{started: now, end: -1}
	r.pending[key] = m
	return m
}

// insert adds the bytes at offset; false if they overlap bytes already there other than
// as an exact repeat (which changes nothing), or would be one fragment too many.
func (m *fragmentedMessage) insert(offset int, data []byte) bool {
	end := offset + len(data)
	i := sort.Search(len(m.parts), func(i int) bool { return m.parts[i].offset >= offset })
	if i < len(m.parts) && m.parts[i].offset == offset && bytes.Equal(m.parts[i].data, data) {
		return true
	}
	if len(m.parts) == reassemblyMaxFragments {
		return false
	}
	if i > 0 && m.parts[i-1].offset+len(m.parts[i-1].data) > offset {
		return false
	}
	if i < len(m.parts) && m.parts[i].offset < end {
		return false
	}
	if m.end >= 0 && end > m.end {
		return false
	}
	m.parts = append(m.parts, fragmentPart{})
	copy(m.parts[i+1:], m.parts[i:])
	m.parts[i] = fragmentPart{offset: offset, data: append([]byte(nil), data...)}
	m.held += len(data)
	return true
}

// setEnd records where the payload ends when this is its last fragment; false if that
// contradicts what came before (a second, different last fragment, or bytes beyond it).
func (m *fragmentedMessage) setEnd(end int, more bool) bool {
	if more {
		return m.end < 0 || end <= m.end
	}
	if m.end >= 0 {
		return m.end == end
	}
	if last := m.parts[len(m.parts)-1]; last.offset+len(last.data) > end {
		return false
	}
	m.end = end
	return true
}

// assemble joins the parts of a complete datagram.
func (m *fragmentedMessage) assemble() []byte {
	out := make([]byte, 0, m.end)
	for _, p := range m.parts {
		out = append(out, p.data...)
	}
	return out
}
