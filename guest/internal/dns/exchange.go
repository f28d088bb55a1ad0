package dns

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
)

// ErrNXDomain is returned when the server says the name does not exist.
var ErrNXDomain = errors.New("NXDOMAIN")

// LookupA asks the server on conn for name's A records. stream selects TCP framing
// (a 2-byte length prefix, RFC 1035 4.2.2); otherwise conn is a UDP socket.
func LookupA(ctx context.Context, conn net.Conn, stream bool, name string) ([]netip.Addr, error) {
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	var idBytes [2]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return nil, fmt.Errorf("generate query id: %w", err)
	}
	id := binary.BigEndian.Uint16(idBytes[:])
	query, err := BuildQuery(id, name)
	if err != nil {
		return nil, err
	}
	raw, err := roundTrip(conn, stream, query)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", name, err)
	}
	resp, err := ParseResponse(raw)
	if err != nil {
		return nil, fmt.Errorf("answer for %s: %w", name, err)
	}
	if resp.ID != id {
		return nil, fmt.Errorf("answer for %s: id %d does not match query %d", name, resp.ID, id)
	}
	switch resp.Rcode {
	case RcodeSuccess:
		return resp.Addresses, nil
	case RcodeNXDomain:
		return nil, fmt.Errorf("%s: %w", name, ErrNXDomain)
	default:
		return nil, fmt.Errorf("%s: server answered %s", name, resp.Rcode)
	}
}

func roundTrip(conn net.Conn, stream bool, query []byte) ([]byte, error) {
	if !stream {
		if _, err := conn.Write(query); err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		buf := make([]byte, 65535)
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		return buf[:n], nil
	}
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(query)))
	if _, err := conn.Write(append(framed, query...)); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	var length [2]byte
	if _, err := io.ReadFull(conn, length[:]); err != nil {
		return nil, fmt.Errorf("receive length: %w", err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(length[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, fmt.Errorf("receive body: %w", err)
	}
	return buf, nil
}
