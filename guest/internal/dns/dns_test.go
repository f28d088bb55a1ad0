package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestQueryEncodesNameAsLabels(t *testing.T) {
	q, err := BuildQuery(0x1234, "db.example.internal.")
	if err != nil {
		t.Fatal(err)
	}
	want := "\x02db\x07example\x08internal\x00\x00\x01\x00\x01"
	if got := string(q[headerSize:]); got != want {
		t.Fatalf("question %q, want %q", got, want)
	}
	if binary.BigEndian.Uint16(q) != 0x1234 {
		t.Fatal("id not encoded")
	}
}

func TestQueryRejectsEmptyLabel(t *testing.T) {
	if _, err := BuildQuery(1, "a..b"); err == nil {
		t.Fatal("empty label accepted")
	}
}

// answer builds a server response to query with the given rcode and A records,
// using a compression pointer to the question name as real servers do.
func answer(query []byte, rcode Rcode, ips ...string) []byte {
	msg := append([]byte(nil), query...)
	binary.BigEndian.PutUint16(msg[2:], 0x8180|uint16(rcode))
	binary.BigEndian.PutUint16(msg[6:], uint16(len(ips)))
	for _, ip := range ips {
		a := netip.MustParseAddr(ip).As4()
		msg = append(msg, 0xc0, headerSize, 0, typeA, 0, classIN, 0, 0, 0, 60, 0, 4)
		msg = append(msg, a[:]...)
	}
	return msg
}

func TestParseCollectsARecords(t *testing.T) {
	q, _ := BuildQuery(7, "db.example.internal")
	resp, err := ParseResponse(answer(q, RcodeSuccess, "192.168.127.50", "10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != 7 || len(resp.Addresses) != 2 || resp.Addresses[0].String() != "192.168.127.50" {
		t.Fatalf("got %+v", resp)
	}
}

func TestParseRejectsTruncatedAnswer(t *testing.T) {
	q, _ := BuildQuery(7, "x")
	full := answer(q, RcodeSuccess, "1.2.3.4")
	if _, err := ParseResponse(full[:len(full)-3]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}

// serve answers one query on the server side of a pipe with rcode and ips.
func serve(t *testing.T, conn net.Conn, stream bool, rcode Rcode, ips ...string) {
	t.Helper()
	go func() {
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		q := buf[:n]
		if stream {
			q = q[2:]
		}
		out := answer(q, rcode, ips...)
		if stream {
			out = append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...)
		}
		_, _ = conn.Write(out)
	}()
}

// pipe is a connected client/server pair, closed when the test ends.
func pipe(t *testing.T) (client, server net.Conn) {
	client, server = net.Pipe()
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

func TestLookupOverStreamAndDatagram(t *testing.T) {
	for _, stream := range []bool{false, true} {
		client, server := pipe(t)
		serve(t, server, stream, RcodeSuccess, "192.168.127.50")
		addrs, err := LookupA(context.Background(), client, stream, "db.example.internal")
		if err != nil || len(addrs) != 1 || addrs[0].String() != "192.168.127.50" {
			t.Fatalf("stream=%v: %v %v", stream, addrs, err)
		}
	}
}

func TestLookupReportsNXDomainDistinctly(t *testing.T) {
	client, server := pipe(t)
	serve(t, server, false, RcodeNXDomain)
	if _, err := LookupA(context.Background(), client, false, "nope.example.internal"); !errors.Is(err, ErrNXDomain) {
		t.Fatalf("got %v, want ErrNXDomain", err)
	}
}
