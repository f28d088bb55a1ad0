package commands

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"bun-gvproxy/guest/internal/control"
)

type tcpRequestArgs struct {
	endpoint
	Data string `json:"data"`
	// ExpectBytes > 0 reads exactly that many bytes; otherwise the guest half-closes
	// after sending and reads until the peer closes.
	ExpectBytes int `json:"expectBytes"`
}

// tcpRequest connects, sends data and returns what comes back.
func (g *Guest) tcpRequest(ctx context.Context, args tcpRequestArgs) (any, error) {
	return over(ctx, g.tcpTo(args.endpoint), func(conn *gonet.TCPConn) (any, error) {
		if _, err := io.WriteString(conn, args.Data); err != nil {
			return nil, g.classify(ctx, fmt.Errorf("send to %s: %w", args.endpoint, err))
		}
		response, err := args.readResponse(conn)
		if err != nil {
			return nil, g.classify(ctx, fmt.Errorf("receive from %s: %w", args.endpoint, err))
		}
		return map[string]any{
			"response": string(response), "bytesSent": len(args.Data), "bytesReceived": len(response),
			"localAddress": conn.LocalAddr().String(),
		}, nil
	})
}

// readResponse reads ExpectBytes bytes, or half-closes and reads to EOF.
func (a tcpRequestArgs) readResponse(conn *gonet.TCPConn) ([]byte, error) {
	if a.ExpectBytes > 0 {
		response := make([]byte, a.ExpectBytes)
		_, err := io.ReadFull(conn, response)
		return response, err
	}
	_ = conn.CloseWrite()
	return io.ReadAll(conn)
}

type udpRequestArgs struct {
	endpoint
	Data string `json:"data"`
	// DataHex is a binary payload (e.g. a QUIC Initial's first bytes), used instead of
	// Data when set.
	DataHex string `json:"dataHex"`

	data []byte // the datagram, decoded by check
}

// check decodes the payload (DataHex, or Data) into data; an empty one is refused.
func (a *udpRequestArgs) check() error {
	a.data = []byte(a.Data)
	if a.DataHex != "" {
		b, err := hex.DecodeString(a.DataHex)
		if err != nil {
			return control.WithCode(CodeBadRequest, fmt.Errorf("udpRequest: dataHex: %w", err))
		}
		a.data = b
	}
	if len(a.data) == 0 {
		return control.WithCode(CodeBadRequest, fmt.Errorf("udpRequest: data or dataHex is required"))
	}
	return nil
}

// udpRequest sends one datagram and waits for one answer.
func (g *Guest) udpRequest(ctx context.Context, args udpRequestArgs) (any, error) {
	return over(ctx, g.udpTo(args.endpoint), func(conn *gonet.UDPConn) (any, error) {
		if _, err := conn.Write(args.data); err != nil {
			return nil, g.classify(ctx, fmt.Errorf("send datagram to %s: %w", args.endpoint, err))
		}
		buf := make([]byte, 65535)
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return nil, g.classify(ctx, fmt.Errorf("no datagram back from %s: %w", args.endpoint, err))
		}
		return map[string]any{"response": string(buf[:n]), "from": addrString(from)}, nil
	})
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
