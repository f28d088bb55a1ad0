package dns

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// pipe is a connected client/server pair, closed when the test ends. miekg/dns frames
// messages as on TCP on a connection that is not a net.PacketConn, so a pipe is a
// stream; datagramPair is the UDP case.
func pipe(t *testing.T) (client, server net.Conn) {
	client, server = net.Pipe()
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// datagramPair is a connected pair of datagram sockets (net.PacketConn, like the
// guest's UDP sockets), closed when the test ends.
func datagramPair(t *testing.T) (client, server net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "dns-test")
		c, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns[0], conns[1]
}

// connPair is a stream pair (stream) or a datagram pair.
func connPair(t *testing.T, stream bool) (client, server net.Conn) {
	if stream {
		return pipe(t)
	}
	return datagramPair(t)
}

// answerA answers a query with rcode and A records for ips, checking it asks for A
// records of want.
func answerA(t *testing.T, want string, rcode int, ips ...string) func(q *mdns.Msg) *mdns.Msg {
	return func(q *mdns.Msg) *mdns.Msg {
		if len(q.Question) != 1 || q.Question[0].Qtype != mdns.TypeA || q.Question[0].Name != want || !q.RecursionDesired {
			t.Errorf("question %v, want a recursive A query for %s", q.Question, want)
		}
		m := new(mdns.Msg)
		m.SetRcode(q, rcode)
		for _, ip := range ips {
			rr, err := mdns.NewRR(want + " 60 IN A " + ip)
			if err != nil {
				t.Error(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		return m
	}
}

func TestLookupOverStreamAndDatagram(t *testing.T) {
	for _, stream := range []bool{false, true} {
		client, server := connPair(t, stream)
		answerWith(t, server, stream, answerA(t, "db.example.internal.", mdns.RcodeSuccess, "192.168.127.50", "10.0.0.1"))
		addrs, err := LookupA(context.Background(), client, stream, "db.example.internal")
		if err != nil || len(addrs) != 2 || addrs[0].String() != "192.168.127.50" || addrs[1].String() != "10.0.0.1" {
			t.Fatalf("stream=%v: %v %v", stream, addrs, err)
		}
	}
}

func TestLookupKeepsOnlyARecords(t *testing.T) {
	client, server := pipe(t)
	answerWith(t, server, false, func(q *mdns.Msg) *mdns.Msg {
		m := answerA(t, "www.example.", mdns.RcodeSuccess, "1.2.3.4")(q)
		cname, _ := mdns.NewRR("www.example. 60 IN CNAME web.example.")
		m.Answer = append([]mdns.RR{cname}, m.Answer...)
		return m
	})
	addrs, err := LookupA(context.Background(), client, false, "www.example.")
	if err != nil || len(addrs) != 1 || addrs[0].String() != "1.2.3.4" {
		t.Fatalf("got %v, %v; want the one A record", addrs, err)
	}
}

func TestLookupReportsNXDomainDistinctly(t *testing.T) {
	client, server := pipe(t)
	answerWith(t, server, false, answerA(t, "nope.example.internal.", mdns.RcodeNameError))
	if _, err := LookupA(context.Background(), client, false, "nope.example.internal"); !errors.Is(err, ErrNXDomain) {
		t.Fatalf("got %v, want ErrNXDomain", err)
	}
}

func TestLookupNamesAnyOtherFailingRcode(t *testing.T) {
	client, server := pipe(t)
	answerWith(t, server, true, answerA(t, "a.example.", mdns.RcodeServerFailure))
	_, err := LookupA(context.Background(), client, true, "a.example")
	if err == nil || errors.Is(err, ErrNXDomain) || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Fatalf("got %v, want an error naming SERVFAIL", err)
	}
}

func TestLookupRejectsAnInvalidNameBeforeSending(t *testing.T) {
	for _, name := range []string{"", "a..b", strings.Repeat("x", 64) + ".example"} {
		client, _ := pipe(t) // nobody reads: a query sent would block
		if _, err := LookupA(context.Background(), client, false, name); err == nil || !strings.Contains(err.Error(), "invalid DNS name") {
			t.Fatalf("%q: got %v, want an invalid-name error", name, err)
		}
	}
}

// A reply cut short does not decode.
func TestLookupRejectsATruncatedAnswer(t *testing.T) {
	client, server := datagramPair(t)
	go func() {
		c := &mdns.Conn{Conn: server, UDPSize: mdns.MaxMsgSize}
		q, err := c.ReadMsg()
		if err != nil {
			return
		}
		full, _ := answerA(t, "x.", mdns.RcodeSuccess, "1.2.3.4")(q).Pack()
		_, _ = server.Write(full[:len(full)-3])
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := LookupA(ctx, client, false, "x"); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want the truncated answer refused", err)
	}
}

func TestLookupRejectsAnAnswerToAnotherQuery(t *testing.T) {
	client, server := pipe(t)
	answerWith(t, server, false, func(q *mdns.Msg) *mdns.Msg {
		m := answerA(t, "a.example.", mdns.RcodeSuccess, "1.2.3.4")(q)
		m.Id = q.Id + 1
		return m
	})
	if _, err := LookupA(context.Background(), client, false, "a.example"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("got %v, want an id mismatch", err)
	}
}
