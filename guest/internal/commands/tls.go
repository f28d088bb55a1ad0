package commands

import (
	"context"
	"crypto/tls"
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
	// probeEnding: the handshake's or the exchange's error, if any, and whether it was
	// a reset.
	probeEnding
	// CertificateNames are the DNS names of the server's leaf certificate.
	CertificateNames []string `json:"certificateNames"`
	// Response is what the server sent back to Data.
	Response string `json:"response"`
}

// tlsHandshake connects to host:port and runs a TLS client handshake with the chosen
// SNI. A failed TCP connect is a command failure (CONNECTION_REFUSED, TIMEOUT); once
// connected, what happened is reported in the result, so a test can tell "the network
// reset the connection after reading the ClientHello" from "the server answered".
func (g *Guest) tlsHandshake(ctx context.Context, args tlsHandshakeArgs) (any, error) {
	return over(ctx, g.countedTCPTo(args.endpoint), func(counted *countingConn) (any, error) {
		result, err := handshake(ctx, counted, args)
		if result.probeEnding, err = g.endProbe(ctx, err); err != nil {
			return nil, err
		}
		return result, nil
	})
}

func (a *tlsHandshakeArgs) check() error {
	if a.Port == 0 {
		return control.WithCode(CodeBadRequest, fmt.Errorf("tlsHandshake: port is required"))
	}
	return nil
}

// handshake runs the TLS client handshake on counted, then the exchange of args.Data;
// the error is whatever ended them early.
func handshake(ctx context.Context, counted *countingConn, args tlsHandshakeArgs) (tlsResult, error) {
	conn := tls.Client(counted, &tls.Config{
		ServerName: args.ServerName,
		// The test servers' certificates are self-signed; what is under test is whether
		// the handshake reaches a server at all.
		InsecureSkipVerify: true, //nolint:gosec
	})
	result := tlsResult{CertificateNames: []string{}}
	err := conn.HandshakeContext(ctx)
	if err == nil {
		result.HandshakeComplete = true
		if certs := conn.ConnectionState().PeerCertificates; len(certs) > 0 {
			result.CertificateNames = append(result.CertificateNames, certs[0].DNSNames...)
		}
		err = exchange(conn, args.Data, &result)
	}
	result.ServerAnswered = counted.received.Load() > 0
	return result, err
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

// countedTCPTo dials a TCP connection to `to` that counts what it reads.
func (g *Guest) countedTCPTo(to endpoint) dialer[*countingConn] {
	return func(ctx context.Context) (*countingConn, error) {
		conn, err := g.dialTCP(ctx, to.Host, to.Port)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn}, nil
	}
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
