// Package dns builds A-record queries and reads the answers, enough for the guest to
// check the virtual network's resolver over UDP and TCP.
package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Rcode is a DNS response code.
type Rcode int

const (
	RcodeSuccess  Rcode = 0
	RcodeServFail Rcode = 2
	RcodeNXDomain Rcode = 3
)

var rcodeNames = map[Rcode]string{RcodeSuccess: "NOERROR", RcodeServFail: "SERVFAIL", RcodeNXDomain: "NXDOMAIN"}

func (r Rcode) String() string {
	if name, ok := rcodeNames[r]; ok {
		return name
	}
	return fmt.Sprintf("RCODE%d", int(r))
}

const (
	headerSize = 12
	typeA      = 1
	classIN    = 1
)

// ErrMalformed reports a response that cannot be decoded.
var ErrMalformed = errors.New("malformed DNS message")

// BuildQuery returns a recursive query for name's A records.
func BuildQuery(id uint16, name string) ([]byte, error) {
	msg := make([]byte, headerSize, 64)
	binary.BigEndian.PutUint16(msg[0:], id)
	binary.BigEndian.PutUint16(msg[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(msg[4:], 1)      // QDCOUNT
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if len(label) == 0 || len(label) > 63 {
			return nil, fmt.Errorf("invalid DNS name %q: label %q", name, label)
		}
		msg = append(msg, byte(len(label)))
		msg = append(msg, label...)
	}
	msg = append(msg, 0, 0, typeA, 0, classIN)
	return msg, nil
}

// Response is the part of an answer the guest reports.
type Response struct {
	ID        uint16
	Rcode     Rcode
	Addresses []netip.Addr // A records in the answer section
}

// ParseResponse decodes a response and collects its A records.
func ParseResponse(msg []byte) (Response, error) {
	if len(msg) < headerSize {
		return Response{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(msg))
	}
	flags := binary.BigEndian.Uint16(msg[2:])
	if flags&0x8000 == 0 {
		return Response{}, fmt.Errorf("%w: not a response", ErrMalformed)
	}
	resp := Response{ID: binary.BigEndian.Uint16(msg[0:]), Rcode: Rcode(flags & 0xf)}
	questions := int(binary.BigEndian.Uint16(msg[4:]))
	answers := int(binary.BigEndian.Uint16(msg[6:]))
	offset := headerSize
	var err error
	for i := 0; i < questions; i++ {
		if offset, err = skipName(msg, offset); err != nil {
			return Response{}, err
		}
		offset += 4 // type, class
	}
	for i := 0; i < answers; i++ {
		if offset, err = skipName(msg, offset); err != nil {
			return Response{}, err
		}
		if offset+10 > len(msg) {
			return Response{}, fmt.Errorf("%w: truncated answer %d", ErrMalformed, i)
		}
		rtype := binary.BigEndian.Uint16(msg[offset:])
		rdlen := int(binary.BigEndian.Uint16(msg[offset+8:]))
		offset += 10
		if offset+rdlen > len(msg) {
			return Response{}, fmt.Errorf("%w: answer %d data overruns the message", ErrMalformed, i)
		}
		if rtype == typeA && rdlen == 4 {
			resp.Addresses = append(resp.Addresses, netip.AddrFrom4([4]byte(msg[offset:offset+4])))
		}
		offset += rdlen
	}
	return resp, nil
}

// skipName returns the offset just past the (possibly compressed) name at offset.
func skipName(msg []byte, offset int) (int, error) {
	for {
		if offset >= len(msg) {
			return 0, fmt.Errorf("%w: name runs past the message", ErrMalformed)
		}
		length := int(msg[offset])
		switch {
		case length == 0:
			return offset + 1, nil
		case length&0xc0 == 0xc0:
			return offset + 2, nil // a pointer ends the name
		default:
			offset += 1 + length
		}
	}
}
