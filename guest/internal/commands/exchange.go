package commands

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"

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
func (g *Guest) tcpRequest(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[tcpRequestArgs](raw)
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := g.begin(parent, raw)
	if err != nil {
		return nil, err
	}
	defer cancel()
	conn, err := g.dialTCP(ctx, args.Host, args.Port)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer bindToContext(ctx, conn)()
	if _, err := io.WriteString(conn, args.Data); err != nil {
		return nil, g.classify(ctx, fmt.Errorf("send to %s:%d: %w", args.Host, args.Port, err))
	}
	var response []byte
	if args.ExpectBytes > 0 {
		response = make([]byte, args.ExpectBytes)
		_, err = io.ReadFull(conn, response)
	} else {
		_ = conn.CloseWrite()
		response, err = io.ReadAll(conn)
	}
	if err != nil {
		return nil, g.classify(ctx, fmt.Errorf("receive from %s:%d: %w", args.Host, args.Port, err))
	}
	return map[string]any{
		"response": string(response), "bytesSent": len(args.Data), "bytesReceived": len(response),
		"localAddress": conn.LocalAddr().String(),
	}, nil
}

type udpRequestArgs struct {
	endpoint
	Data string `json:"data"`
	// DataHex is a binary payload (e.g. a QUIC Initial's first bytes), used instead of
	// Data when set.
	DataHex string `json:"dataHex"`
}

// payload is the datagram to send: DataHex decoded, or Data.
func (a udpRequestArgs) payload() ([]byte, error) {
	if a.DataHex == "" {
		return []byte(a.Data), nil
	}
	b, err := hex.DecodeString(a.DataHex)
	if err != nil {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("udpRequest: dataHex: %w", err))
	}
	return b, nil
}

// udpRequest sends one datagram and waits for one answer.
func (g *Guest) udpRequest(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[udpRequestArgs](raw)
	if err != nil {
		return nil, err
	}
	data, err := args.payload()
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("udpRequest: data or dataHex is required"))
	}
	ctx, cancel, err := g.begin(parent, raw)
	if err != nil {
		return nil, err
	}
	defer cancel()
	conn, err := g.dialUDP(ctx, args.Host, args.Port)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer bindToContext(ctx, conn)()
	if _, err := conn.Write(data); err != nil {
		return nil, g.classify(ctx, fmt.Errorf("send datagram to %s:%d: %w", args.Host, args.Port, err))
	}
	buf := make([]byte, 65535)
	n, from, err := conn.ReadFrom(buf)
	if err != nil {
		return nil, g.classify(ctx, fmt.Errorf("no datagram back from %s:%d: %w", args.Host, args.Port, err))
	}
	return map[string]any{"response": string(buf[:n]), "from": addrString(from)}, nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
