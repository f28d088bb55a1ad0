package sniff

import (
	"errors"
	"fmt"
	"strings"
)

// MaxInspectBytes bounds how much of a connection's start is examined (and buffered)
// before giving up: a ClientHello with post-quantum key shares is about 2 KiB and a
// request header block a few hundred bytes, so this leaves ample room while keeping a
// hostile guest from making the host buffer without limit.
const MaxInspectBytes = 32 << 10

// ErrEncryptedClientHello is returned for a ClientHello carrying the
// encrypted_client_hello extension: the name checked would only be the outer, public
// one while the server routes by the encrypted inner name. Real ECH and GREASE ECH look
// alike by design, so both are refused.
var ErrEncryptedClientHello = errors.New("encrypted ClientHello (ECH) hides the server name")

const (
	recordTypeHandshake     = 0x16
	handshakeTypeClientHelo = 0x01
	maxTLSPlaintext         = 1 << 14
	extServerName           = 0x0000
	extEncryptedClientHello = 0xfe0d
	serverNameTypeHost      = 0x00
)

// InspectTLSClientHello extracts the server name (SNI) from the first bytes a client
// sent. complete is false with a nil error when more bytes are needed (the ClientHello
// may span reads and TLS records). A complete ClientHello without SNI yields "", true.
// Anything that is not a well-formed ClientHello, or none within MaxInspectBytes, is an
// error. The name is lowercased without a trailing dot. It never panics.
func InspectTLSClientHello(first []byte) (sni string, complete bool, err error) {
	body, complete, err := clientHelloBody(first)
	if err != nil || !complete {
		return "", false, err
	}
	sni, err = parseClientHello(body)
	if err != nil {
		return sni, false, err
	}
	return sni, true, nil
}

// clientHelloBody reassembles the first handshake message from TLS records and returns
// its body once whole. It checks each byte as soon as it is present, so a non-TLS
// stream is refused on its first byte rather than after buffering.
func clientHelloBody(first []byte) (body []byte, complete bool, err error) {
	var msg []byte
	rest := first
	for {
		if len(rest) == 0 {
			return nil, false, needMoreTLS(first)
		}
		if rest[0] != recordTypeHandshake {
			return nil, false, fmt.Errorf("not a TLS handshake record (content type 0x%02x)", rest[0])
		}
		if len(rest) >= 2 && rest[1] != 3 {
			return nil, false, fmt.Errorf("not a TLS record (version major %d)", rest[1])
		}
		if len(rest) < 5 {
			return nil, false, needMoreTLS(first)
		}
		n := int(rest[3])<<8 | int(rest[4])
		if n == 0 || n > maxTLSPlaintext {
			return nil, false, fmt.Errorf("invalid TLS record length %d", n)
		}
		fragment := rest[5:min(len(rest), 5+n)]
		msg = append(msg, fragment...)
		rest = rest[5+len(fragment):]
		if len(msg) >= 1 && msg[0] != handshakeTypeClientHelo {
			return nil, false, fmt.Errorf("first handshake message is type %d, not ClientHello", msg[0])
		}
		if len(msg) >= 4 {
			size := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
			if size+4 > MaxInspectBytes {
				return nil, false, fmt.Errorf("ClientHello of %d bytes exceeds the %d-byte inspection limit", size, MaxInspectBytes)
			}
			if len(msg) >= 4+size {
				return msg[4 : 4+size], true, nil
			}
		}
		if len(fragment) < n {
			return nil, false, needMoreTLS(first)
		}
	}
}

// needMoreTLS is nil (need more bytes) until the input reaches the inspection limit.
func needMoreTLS(first []byte) error {
	if len(first) >= MaxInspectBytes {
		return fmt.Errorf("no complete ClientHello within %d bytes", MaxInspectBytes)
	}
	return nil
}

// parseClientHello walks a ClientHello body (RFC 8446 section 4.1.2) to the
// server_name extension (RFC 6066 section 3). Duplicate extensions or several host
// names are refused: a server might read a different one than this parser.
func parseClientHello(body []byte) (string, error) {
	c := cursor{b: body}
	c.skip(2 + 32) // legacy_version, random
	sessionID := c.u8()
	c.skip(sessionID)
	suites := c.u16()
	c.skip(suites)
	methods := c.u8()
	c.skip(methods)
	switch {
	case c.bad:
		return "", errors.New("truncated ClientHello")
	case sessionID > 32:
		return "", fmt.Errorf("session id of %d bytes", sessionID)
	case suites < 2 || suites%2 != 0:
		return "", fmt.Errorf("cipher suites length %d", suites)
	case methods < 1:
		return "", errors.New("no compression methods")
	}
	if c.empty() {
		return "", nil // no extensions, so no SNI
	}
	exts := cursor{b: c.bytes(c.u16())}
	if c.bad || !c.empty() {
		return "", errors.New("malformed ClientHello extensions block")
	}
	var (
		sni    string
		seen   = map[int]bool{}
		hasECH bool
	)
	for !exts.empty() {
		typ, data := exts.u16(), exts.bytes(exts.u16())
		if exts.bad {
			return "", errors.New("truncated ClientHello extension")
		}
		if seen[typ] {
			return "", fmt.Errorf("duplicate ClientHello extension %d", typ)
		}
		seen[typ] = true
		switch typ {
		case extServerName:
			name, err := parseServerName(data)
			if err != nil {
				return "", err
			}
			sni = name
		case extEncryptedClientHello:
			hasECH = true
		}
	}
	if hasECH {
		return sni, ErrEncryptedClientHello
	}
	return sni, nil
}

func parseServerName(data []byte) (string, error) {
	c := cursor{b: data}
	list := cursor{b: c.bytes(c.u16())}
	if c.bad || !c.empty() {
		return "", errors.New("malformed server_name extension")
	}
	var host string
	for !list.empty() {
		typ, name := list.u8(), list.bytes(list.u16())
		if list.bad {
			return "", errors.New("truncated server_name entry")
		}
		if typ != serverNameTypeHost {
			continue
		}
		if host != "" {
			return "", errors.New("several host names in server_name")
		}
		if len(name) == 0 {
			return "", errors.New("empty server name")
		}
		for _, ch := range name {
			if ch <= ' ' || ch >= 0x7f {
				return "", fmt.Errorf("invalid byte 0x%02x in server name", ch)
			}
		}
		host = strings.ToLower(strings.TrimSuffix(string(name), "."))
	}
	return host, nil
}

// cursor reads big-endian fields; reading past the end sets bad and yields zeros, so
// callers check bad once after a group of reads instead of after each.
type cursor struct {
	b   []byte
	bad bool
}

func (c *cursor) empty() bool { return len(c.b) == 0 }

func (c *cursor) bytes(n int) []byte {
	if c.bad || n < 0 || n > len(c.b) {
		c.bad = true
		return nil
	}
	out := c.b[:n]
	c.b = c.b[n:]
	return out
}

func (c *cursor) skip(n int) { c.bytes(n) }

func (c *cursor) u8() int {
	b := c.bytes(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (c *cursor) u16() int {
	b := c.bytes(2)
	if b == nil {
		return 0
	}
	return int(b[0])<<8 | int(b[1])
}
