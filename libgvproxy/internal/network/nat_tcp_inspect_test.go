package network

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestPipeFromCopiesToEOFAndHalfClosesTheHost(t *testing.T) {
	host, peer := tcpPair(t)
	if n, err := pipeFrom(host, strings.NewReader("GET / HTTP/1.1\r\n\r\n")); err != nil || n != 18 {
		t.Fatalf("clean EOF returned %d, %v; want 18 bytes, nil", n, err)
	}
	got, err := io.ReadAll(peer)
	if err != nil || string(got) != "GET / HTTP/1.1\r\n\r\n" {
		t.Fatalf("host read %q, %v; want the bytes then EOF", got, err)
	}
	// Only the write half is closed: the host's answer still gets through.
	if _, err := peer.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(host, buf); err != nil || string(buf) != "answer" {
		t.Fatalf("answer after half-close: %q, %v", buf, err)
	}
}

// deniedAfter yields its bytes, then a policy denial.
type deniedAfter struct{ data []byte }

func (r *deniedAfter) Read(b []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(b, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	return 0, &policy.DeniedError{Denial: audit.Denial{Proto: "tcp", Reason: audit.HostMismatch, Detail: "http inspection: test"}}
}

func TestPipeFromReturnsADenialAndLeavesTheResetToTheCaller(t *testing.T) {
	host, peer := tcpPair(t)
	_, err := pipeFrom(host, &deniedAfter{data: []byte("first request")})
	if !policy.IsDenied(err) {
		t.Fatalf("got %v, want the denial", err)
	}
	buf := make([]byte, len("first request"))
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "first request" {
		t.Fatalf("bytes before the denial: %q, %v", buf, err)
	}
	// Still open: neither closed nor half-closed behind the caller's back.
	if _, err := host.Write([]byte("x")); err != nil {
		t.Fatalf("host connection was closed by pipeFrom: %v", err)
	}
	resetHost(host)
	_, err = io.ReadAll(peer)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after resetHost the peer read %v, want ECONNRESET", err)
	}
}
