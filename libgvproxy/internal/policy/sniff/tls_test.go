package sniff

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"strings"
	"testing"

	"bun-gvproxy/libgvproxy/internal/policy/sniff/snifftest"
)

var (
	captureClientHello  = snifftest.CaptureClientHello
	helloWithExtensions = snifftest.HelloWithExtensions
)

func TestInspectTLSClientHelloReadsRealClientHellos(t *testing.T) {
	cases := []struct {
		name   string
		config *tls.Config
		want   string
	}{
		{"TLS 1.3", &tls.Config{ServerName: "example.com"}, "example.com"},
		{"TLS 1.2 only", &tls.Config{ServerName: "api.example.com", MaxVersion: tls.VersionTLS12}, "api.example.com"},
		{"mixed case", &tls.Config{ServerName: "WWW.Example.COM"}, "www.example.com"},
		{"with ALPN", &tls.Config{ServerName: "h2.example.com", NextProtos: []string{"h2", "http/1.1"}}, "h2.example.com"},
		{"no SNI (IP address)", &tls.Config{ServerName: "203.0.113.5", InsecureSkipVerify: true}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hello := captureClientHello(t, c.config)
			sni, complete, err := InspectTLSClientHello(hello)
			if err != nil || !complete || sni != c.want {
				t.Fatalf("InspectTLSClientHello = %q, %v, %v; want %q, true, nil", sni, complete, err, c.want)
			}
		})
	}
}

func TestInspectTLSClientHelloNeedsMoreUntilWhole(t *testing.T) {
	hello := captureClientHello(t, &tls.Config{ServerName: "split.example.com"})
	for cut := 0; cut < len(hello); cut++ {
		sni, complete, err := InspectTLSClientHello(hello[:cut])
		if err != nil || complete || sni != "" {
			t.Fatalf("prefix of %d/%d bytes: %q, %v, %v; want need-more", cut, len(hello), sni, complete, err)
		}
	}
}

// splitIntoRecords re-frames a single-record ClientHello as several TLS records of at
// most size bytes each, as a TLS stack may do legitimately.
func splitIntoRecords(t *testing.T, hello []byte, size int) []byte {
	t.Helper()
	header, body := hello[:5], hello[5:]
	if int(binary.BigEndian.Uint16(header[3:5])) != len(body) {
		t.Fatalf("capture is not a single record")
	}
	var out []byte
	for len(body) > 0 {
		n := min(size, len(body))
		out = append(out, header[0], header[1], header[2], byte(n>>8), byte(n))
		out = append(out, body[:n]...)
		body = body[n:]
	}
	return out
}

func TestInspectTLSClientHelloAcrossRecords(t *testing.T) {
	hello := captureClientHello(t, &tls.Config{ServerName: "records.example.com"})
	for _, size := range []int{1, 3, 50, 512} {
		framed := splitIntoRecords(t, hello, size)
		sni, complete, err := InspectTLSClientHello(framed)
		if err != nil || !complete || sni != "records.example.com" {
			t.Errorf("records of %d bytes: %q, %v, %v", size, sni, complete, err)
		}
		if _, complete, err := InspectTLSClientHello(framed[:len(framed)-1]); complete || err != nil {
			t.Errorf("records of %d bytes, last byte missing: complete %v, err %v; want need-more", size, complete, err)
		}
	}
}

func extension(typ uint16, data []byte) []byte {
	out := binary.BigEndian.AppendUint16(nil, typ)
	out = binary.BigEndian.AppendUint16(out, uint16(len(data)))
	return append(out, data...)
}

func serverNameExt(names ...string) []byte {
	var list []byte
	for _, n := range names {
		list = append(list, serverNameTypeHost)
		list = binary.BigEndian.AppendUint16(list, uint16(len(n)))
		list = append(list, n...)
	}
	return extension(extServerName, append(binary.BigEndian.AppendUint16(nil, uint16(len(list))), list...))
}

func TestInspectTLSClientHelloRefusesGarbageAndAmbiguity(t *testing.T) {
	real := captureClientHello(t, &tls.Config{ServerName: "example.com"})
	hugeLen := append([]byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01}, 0x7f, 0xff, 0xff)
	cases := []struct {
		name  string
		input []byte
		want  string
	}{
		{"HTTP on 443", []byte("GET / HTTP/1.1\r\n"), "not a TLS handshake record (content type 0x47)"},
		{"first byte only", []byte{'G'}, "not a TLS handshake record"},
		{"SSH banner", []byte("SSH-2.0-OpenSSH_9.6\r\n"), "not a TLS handshake record"},
		{"alert record", []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}, "content type 0x15"},
		{"bad version", []byte{0x16, 0x09}, "version major 9"},
		{"zero-length record", []byte{0x16, 0x03, 0x01, 0x00, 0x00}, "invalid TLS record length 0"},
		{"oversized record", []byte{0x16, 0x03, 0x01, 0x40, 0x01}, "invalid TLS record length 16385"},
		{"ServerHello instead", []byte{0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0, 0, 0}, "type 2, not ClientHello"},
		{"ClientHello beyond the limit", hugeLen, "exceeds the 32768-byte inspection limit"},
		{"truncated body", helloRecord([]byte{0x03, 0x03, 1, 2}), "truncated ClientHello"},
		{"session id too long", helloRecord(append(append([]byte{3, 3}, make([]byte, 32)...), append([]byte{33}, make([]byte, 33+4+2)...)...)), "session id of 33 bytes"},
		{"duplicate SNI extension", helloWithExtensions(append(serverNameExt("a.example"), serverNameExt("b.example")...)), "duplicate ClientHello extension 0"},
		{"two host names", helloWithExtensions(serverNameExt("a.example", "b.example")), "several host names"},
		{"empty host name", helloWithExtensions(serverNameExt("")), "empty server name"},
		{"NUL in host name", helloWithExtensions(serverNameExt("a.example\x00.evil")), "invalid byte 0x00"},
		{"ECH", helloWithExtensions(append(serverNameExt("public.example"), extension(extEncryptedClientHello, []byte{0, 1, 2})...)), ErrEncryptedClientHello.Error()},
		{"real hello, corrupted extensions length", corruptExtensionsLength(t, real), "malformed ClientHello extensions block"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sni, complete, err := InspectTLSClientHello(c.input)
			if err == nil || complete {
				t.Fatalf("InspectTLSClientHello = %q, %v, %v; want an error", sni, complete, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

// helloRecord wraps a raw ClientHello body in a handshake header and a record.
func helloRecord(body []byte) []byte {
	msg := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{0x16, 0x03, 0x01, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

// corruptExtensionsLength bumps the extensions block length of a captured ClientHello
// by one, so it overruns the message.
func corruptExtensionsLength(t *testing.T, hello []byte) []byte {
	out := bytes.Clone(hello)
	body := out[9:]
	pos := 2 + 32
	pos += 1 + int(body[pos])
	pos += 2 + int(binary.BigEndian.Uint16(body[pos:]))
	pos += 1 + int(body[pos])
	n := binary.BigEndian.Uint16(body[pos:])
	binary.BigEndian.PutUint16(body[pos:], n+1)
	return out
}

func TestInspectTLSClientHelloMinimalForms(t *testing.T) {
	cases := []struct {
		name  string
		input []byte
		want  string
	}{
		{"no extensions at all", helloWithExtensions(nil), ""},
		{"empty extensions", helloWithExtensions([]byte{}), ""},
		{"SNI with trailing dot", helloWithExtensions(serverNameExt("Example.COM.")), "example.com"},
		{"unknown extension skipped", helloWithExtensions(append(extension(0xaaaa, []byte{1, 2, 3}), serverNameExt("x.example")...)), "x.example"},
		{"trailing record after the hello", append(helloWithExtensions(serverNameExt("x.example")), 0x17, 0x03, 0x03), "x.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sni, complete, err := InspectTLSClientHello(c.input)
			if err != nil || !complete || sni != c.want {
				t.Fatalf("InspectTLSClientHello = %q, %v, %v; want %q, true, nil", sni, complete, err, c.want)
			}
		})
	}
}

func TestInspectTLSClientHelloGivesUpAtTheLimit(t *testing.T) {
	// Endless one-byte records of a ClientHello that claims to be large but legal.
	input := []byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x70, 0x00}
	for len(input) < MaxInspectBytes {
		input = append(input, 0x16, 0x03, 0x01, 0x00, 0x01, 0x00)
	}
	_, complete, err := InspectTLSClientHello(input)
	if err == nil || complete {
		t.Fatalf("complete %v, err %v; want an error at %d bytes", complete, err, len(input))
	}
	if !strings.Contains(err.Error(), "no complete ClientHello within") {
		t.Errorf("error %q", err)
	}
}
