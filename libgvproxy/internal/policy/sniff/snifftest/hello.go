// Package snifftest builds TLS ClientHellos for the tests of the sniffers and of the
// policy decisions that use them.
package snifftest

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// CaptureClientHello returns the first TLS record crypto/tls sends as a client for
// config: a real ClientHello, with whatever extensions Go puts in it (key shares,
// ALPN ...). Go sends it as one record.
func CaptureClientHello(t testing.TB, config *tls.Config) []byte {
	t.Helper()
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		defer client.Close()
		_ = tls.Client(client, config).Handshake()
	}()
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hello []byte
	buf := make([]byte, 4096)
	for len(hello) < 5 || len(hello) < 5+int(binary.BigEndian.Uint16(hello[3:5])) {
		n, err := server.Read(buf)
		hello = append(hello, buf[:n]...)
		if err != nil {
			t.Fatalf("reading ClientHello: %v", err)
		}
	}
	return hello[:5+int(binary.BigEndian.Uint16(hello[3:5]))]
}

// HelloWithExtensions builds a minimal ClientHello record with the given extensions
// block (nil: none at all).
func HelloWithExtensions(exts []byte) []byte {
	body := []byte{0x03, 0x03}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x13, 0x01)    // one cipher suite
	body = append(body, 1, 0)                // null compression
	if exts != nil {
		body = binary.BigEndian.AppendUint16(body, uint16(len(exts)))
		body = append(body, exts...)
	}
	msg := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{0x16, 0x03, 0x01, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}
