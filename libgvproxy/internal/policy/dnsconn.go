package policy

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/miekg/dns"
)

// The gateway DNS server (gvisor-tap-vsock's, built on miekg/dns) is not ours to
// change, so the filter sits on its sockets instead: queries are screened as the server
// reads them (refused ones are answered NXDOMAIN here and never reach it), and answers
// are observed (and their TTLs capped) as the server writes them, before the guest can
// act on them.

// ScreenDNSPacketConn wraps the UDP socket the gateway DNS server serves on. With
// filtering off it returns pc unchanged.
func (p *Policy) ScreenDNSPacketConn(pc net.PacketConn) net.PacketConn {
	if !p.Enabled() {
		return pc
	}
	return &screenedPacketConn{PacketConn: pc, policy: p}
}

// ScreenDNSListener wraps the TCP listener the gateway DNS server serves on. With
// filtering off it returns ln unchanged.
func (p *Policy) ScreenDNSListener(ln net.Listener) net.Listener {
	if !p.Enabled() {
		return ln
	}
	return &screenedListener{Listener: ln, policy: p}
}

// screenQuery decides on one wire-format query: pass it to the server, or answer it
// with reply (nil: drop it, for what does not parse as a query).
func (p *Policy) screenQuery(raw []byte) (pass bool, reply []byte) {
	q := new(dns.Msg)
	if err := q.Unpack(raw); err != nil || q.Response {
		p.recordDenial(Denial{Proto: "dns", Reason: "malformed DNS query dropped"})
		return false, nil
	}
	if handled, pass, zoneReply := p.screenZoneQuery(q); handled {
		if pass {
			return true, nil
		}
		packed, err := zoneReply.Pack()
		if err != nil {
			return false, nil
		}
		return false, packed
	}
	if p.FilterQuery(q) {
		return true, nil
	}
	reply, err := NXDomainReply(q).Pack()
	if err != nil {
		return false, nil
	}
	return false, reply
}

// screenResponse learns from one wire-format answer and returns it with TTLs capped.
// What does not parse goes out unchanged (and teaches nothing).
func (p *Policy) screenResponse(raw []byte) []byte {
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		return raw
	}
	p.ObserveResponse(m)
	if !hasTTLAbove(m, uint32(MaxLearnTTL.Seconds())) {
		return raw
	}
	p.CapTTLs(m)
	m.Compress = true
	out, err := m.Pack()
	if err != nil || len(out) > len(raw) {
		// Growing could break the UDP size the server truncated for, or the TCP
		// frame length; the guest then caches longer than the binding lasts, and
		// simply asks again.
		return raw
	}
	return out
}

func hasTTLAbove(m *dns.Msg, limit uint32) bool {
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range section {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT && h.Ttl > limit {
				return true
			}
		}
	}
	return false
}

type screenedPacketConn struct {
	net.PacketConn
	policy *Policy
}

// ReadFrom returns the next query the policy lets through; refused ones are answered
// here and skipped.
func (c *screenedPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		pass, reply := c.policy.screenQuery(b[:n])
		if pass {
			return n, addr, nil
		}
		if reply != nil {
			_, _ = c.PacketConn.WriteTo(reply, addr) // best effort, like any UDP answer
		}
	}
}

func (c *screenedPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if _, err := c.PacketConn.WriteTo(c.policy.screenResponse(b), addr); err != nil {
		return 0, err
	}
	return len(b), nil
}

type screenedListener struct {
	net.Listener
	policy *Policy
}

func (l *screenedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &screenedConn{Conn: conn, policy: l.policy}, nil
}

// screenedConn screens DNS over TCP: messages framed by a 2-byte length (RFC 1035
// section 4.2.2), which may arrive split or several to a read.
type screenedConn struct {
	net.Conn
	policy *Policy

	readMu   sync.Mutex
	received []byte // from the guest, not yet a whole frame
	passed   []byte // screened frames for the server to read

	writeMu sync.Mutex
	written []byte // from the server, not yet a whole frame
}

func (c *screenedConn) Read(b []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for len(c.passed) == 0 {
		if frame, ok := nextFrame(&c.received); ok {
			pass, reply := c.policy.screenQuery(frame)
			switch {
			case pass:
				c.passed = appendFrame(c.passed, frame)
			case reply != nil:
				if err := c.writeReply(reply); err != nil {
					return 0, err
				}
			}
			continue
		}
		chunk := make([]byte, 4096)
		n, err := c.Conn.Read(chunk)
		c.received = append(c.received, chunk[:n]...)
		if err != nil && n == 0 {
			return 0, err
		}
	}
	n := copy(b, c.passed)
	c.passed = c.passed[n:]
	return n, nil
}

func (c *screenedConn) Write(b []byte) (int, error) {
	if err := c.writeFrames(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// writeFrames sends every whole frame in b (after what an earlier write left over) to
// the guest, each screened as an answer.
func (c *screenedConn) writeFrames(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.written = append(c.written, b...)
	for {
		frame, ok := nextFrame(&c.written)
		if !ok {
			return nil
		}
		if _, err := c.Conn.Write(appendFrame(nil, c.policy.screenResponse(frame))); err != nil {
			return err
		}
	}
}

// writeReply answers a refused query directly, between the server's frames.
func (c *screenedConn) writeReply(msg []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_, err := c.Conn.Write(appendFrame(nil, msg))
	return err
}

// nextFrame removes and returns the first whole length-prefixed message in *buf.
func nextFrame(buf *[]byte) ([]byte, bool) {
	if len(*buf) < 2 {
		return nil, false
	}
	size := int(binary.BigEndian.Uint16(*buf))
	if len(*buf) < 2+size {
		return nil, false
	}
	frame := append([]byte(nil), (*buf)[2:2+size]...)
	*buf = (*buf)[2+size:]
	return frame, true
}

func appendFrame(dst, msg []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	return append(dst, msg...)
}
