package commands

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"

	"bun-gvproxy/guest/internal/control"
)

type tlsHandshakeArgs struct {
	endpoint
	// ServerName is the SNI the ClientHello carries; "" sends none.
	ServerName string `json:"serverName"`
	// Data, if set, is sent after a completed handshake; the reply is read to EOF.
	Data string `json:"data"`
}

// tlsResult tells a refusal by the network (reset before the server said anything)
// from a server that answered, whatever it answered.
type tlsResult struct {
	// ServerAnswered: at least one byte came back from the other end.
	ServerAnswered bool `json:"serverAnswered"`
	// HandshakeComplete: the TLS handshake finished (the certificate is not verified:
	// the test servers' certificates are self-signed).
	HandshakeComplete bool `json:"handshakeComplete"`
	// Reset: the connection was reset (or aborted) rather than closed or answered.
	Reset bool `json:"reset"`
	// Error is the handshake's or the exchange's error, if any.
	Error string `json:"error,omitempty"`
	// CertificateNames are the DNS names of the server's leaf certificate.
	CertificateNames []string `json:"certificateNames"`
	// Response is what the server sent back to Data.
	Response string `json:"response"`
}

// tlsHandshake connects to host:port and runs a TLS client handshake with the chosen
// SNI. A failed TCP connect is a command failure (CONNECTION_REFUSED, TIMEOUT); once
// connected, what happened is reported in the result, so a test can tell "the network
// reset the connection after reading the ClientHello" from "the server answered".
func (g *Guest) tlsHandshake(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[tlsHandshakeArgs](raw)
	if err != nil {
		return nil, err
	}
	if args.Port == 0 {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("tlsHandshake: port is required"))
	}
	ctx, cancel, err := g.begin(parent, raw)
	if err != nil {
		return nil, err
	}
	defer cancel()
	tcpConn, err := g.dialTCP(ctx, args.Host, args.Port)
	if err != nil {
		return nil, err
	}
	counted := &countingConn{Conn: tcpConn}
	defer counted.Close()
	defer bindToContext(ctx, counted)()
	conn := tls.Client(counted, &tls.Config{
		ServerName: args.ServerName,
		// The test servers' certificates are self-signed; what is under test is whether
		// the handshake reaches a server at all.
		InsecureSkipVerify: true, //nolint:gosec
	})
	result := tlsResult{CertificateNames: []string{}}
	err = conn.HandshakeContext(ctx)
	if err == nil {
		result.HandshakeComplete = true
		if certs := conn.ConnectionState().PeerCertificates; len(certs) > 0 {
			result.CertificateNames = append(result.CertificateNames, certs[0].DNSNames...)
		}
		err = exchange(conn, args.Data, &result)
	}
	result.ServerAnswered = counted.received.Load() > 0
	if err != nil {
		if coded := g.classify(ctx, err); isTimeoutCode(coded) {
			return nil, coded
		}
		result.Error = err.Error()
		result.Reset = isReset(err)
	}
	return result, nil
}

// exchange sends data over an established TLS connection and reads the reply to EOF.
func exchange(conn *tls.Conn, data string, result *tlsResult) error {
	if data == "" {
		return nil
	}
	if _, err := io.WriteString(conn, data); err != nil {
		return fmt.Errorf("send over TLS: %w", err)
	}
	reply, err := io.ReadAll(conn)
	result.Response = string(reply)
	if err != nil {
		return fmt.Errorf("read over TLS: %w", err)
	}
	return nil
}

func isTimeoutCode(err error) bool {
	var coded *control.CodedError
	return errors.As(err, &coded) && coded.Code == CodeTimeout
}

// countingConn counts the bytes read from the connection.
type countingConn struct {
	net.Conn
	received atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.received.Add(int64(n))
	return n, err
}
