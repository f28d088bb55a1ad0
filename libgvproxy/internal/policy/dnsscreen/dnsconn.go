package dnsscreen

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/miekg/dns"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
)

// PacketConn wraps the UDP socket the gateway DNS server serves on.
func (s *Screen) PacketConn(pc net.PacketConn) net.PacketConn {
	return &screenedPacketConn{PacketConn: pc, screen: s}
}

// Listener wraps the TCP listener the gateway DNS server serves on.
func (s *Screen) Listener(ln net.Listener) net.Listener {
	return &screenedListener{Listener: ln, screen: s}
}

// screenQuery decides on one wire-format query: pass it to the server, or answer it
// with reply (nil: drop it, for what does not parse as a query). transport is "udp" or
// "tcp", for the report.
func (s *Screen) screenQuery(raw []byte, transport string) (pass bool, reply []byte) {
	rules := s.rules()
	if !s.active(rules) {
		return true, nil
	}
	q := new(dns.Msg)
	if err := q.Unpack(raw); err != nil || q.Response {
		if rules.Enabled() {
			s.audit.Deny(audit.Denial{Reason: audit.DNSMalformed, Proto: "dns", Transport: transport, Detail: "malformed DNS query dropped"})
			return false, nil
		}
		return true, nil // unfiltered: the server decides what to do with it
	}
	if handled, zoneReply := s.screenZoneQuery(rules, q); handled {
		// A zone's answer for an allowed name opens its address, like any answer.
		ObserveResponse(rules, zoneReply)
		s.emitAnswer(zoneReply, transport)
		packed, err := zoneReply.Pack()
		if err != nil {
			return false, nil
		}
		return false, packed
	}
	allowed, denial := FilterQuery(rules, q)
	if allowed {
		return true, nil
	}
	denial.Transport = transport
	s.audit.Deny(denial)
	reply, err := NXDomainReply(q).Pack()
	if err != nil {
		return false, nil
	}
	return false, reply
}

// screenResponse learns from one wire-format answer and returns it with TTLs capped.
// What does not parse goes out unchanged (and teaches nothing).
func (s *Screen) screenResponse(raw []byte, transport string) []byte {
	rules := s.rules()
	if !s.active(rules) {
		return raw
	}
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		return raw
	}
	s.emitAnswer(m, transport)
	if !rules.Enabled() {
		return raw
	}
	ObserveResponse(rules, m)
	if !hasTTLAbove(m, uint32(policy.MaxLearnTTL.Seconds())) {
		return raw
	}
	CapTTLs(rules, m)
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

// emitAnswer queues the `dns` event of an answered query.
func (s *Screen) emitAnswer(m *dns.Msg, transport string) {
	s.audit.DNS(func() audit.DNSEvent {
		e := audit.DNSEvent{Protocol: transport, Decision: audit.DNSAllowed, Rcode: dns.RcodeToString[m.Rcode]}
		if len(m.Question) > 0 {
			e.Name, e.Query = m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype]
		}
		for _, rr := range m.Answer {
			switch r := rr.(type) {
			case *dns.A:
				e.Answer = append(e.Answer, r.A.String())
			case *dns.AAAA:
				e.Answer = append(e.Answer, r.AAAA.String())
			case *dns.CNAME:
				e.Answer = append(e.Answer, r.Target)
			}
		}
		return e
	})
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
	screen *Screen
}

// ReadFrom returns the next query the policy lets through; refused ones are answered
// here and skipped.
func (c *screenedPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		pass, reply := c.screen.screenQuery(b[:n], "udp")
		if pass {
			return n, addr, nil
		}
		if reply != nil {
			_, _ = c.PacketConn.WriteTo(reply, addr) // best effort, like any UDP answer
		}
	}
}

func (c *screenedPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if _, err := c.PacketConn.WriteTo(c.screen.screenResponse(b, "udp"), addr); err != nil {
		return 0, err
	}
	return len(b), nil
}

type screenedListener struct {
	net.Listener
	screen *Screen
}

func (l *screenedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &screenedConn{Conn: conn, screen: l.screen}, nil
}

// screenedConn screens DNS over TCP: messages framed by a 2-byte length (RFC 1035
// section 4.2.2), which may arrive split or several to a read.
type screenedConn struct {
	net.Conn
	screen *Screen

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
			pass, reply := c.screen.screenQuery(frame, "tcp")
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
		if _, err := c.Conn.Write(appendFrame(nil, c.screen.screenResponse(frame, "tcp"))); err != nil {
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
