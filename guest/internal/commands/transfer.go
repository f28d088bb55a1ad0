package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"
)

// transferResult reports one bulk transfer.
type transferResult struct {
	Bytes          int64   `json:"bytes"`
	Seconds        float64 `json:"seconds"`
	MbitsPerSecond float64 `json:"mbitsPerSecond"`
	Error          string  `json:"error,omitempty"`
}

func newTransferResult(n int64, elapsed time.Duration, err error) transferResult {
	r := transferResult{Bytes: n, Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		r.MbitsPerSecond = float64(n) * 8 / elapsed.Seconds() / 1e6
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// zeroReader is an endless source of zero bytes for bulk sends.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// sink counts bytes until EOF.
func sink(c net.Conn) transferResult {
	start := time.Now()
	n, err := io.Copy(io.Discard, c)
	return newTransferResult(n, time.Since(start), err)
}

type bulkSendArgs struct {
	endpoint
	Bytes int64 `json:"bytes"`
}

// bulkSend connects and writes Bytes zero bytes, half-closes and waits for the peer
// to close, so the time covers delivery, not just buffering.
func (g *Guest) bulkSend(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[bulkSendArgs](raw)
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
	start := time.Now()
	n, err := io.CopyN(conn, zeroReader{}, args.Bytes)
	if err != nil {
		return nil, g.classify(ctx, fmt.Errorf("bulk send to %s:%d after %d bytes: %w", args.Host, args.Port, n, err))
	}
	_ = conn.CloseWrite()
	if _, err := io.Copy(io.Discard, conn); err != nil {
		return nil, g.classify(ctx, fmt.Errorf("wait for %s:%d to close: %w", args.Host, args.Port, err))
	}
	return newTransferResult(n, time.Since(start), nil), nil
}

type bulkReceiveArgs struct {
	endpoint
	Data string `json:"data"` // optional request sent first
}

// bulkReceive connects, optionally sends Data, and counts bytes until the peer closes.
func (g *Guest) bulkReceive(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[bulkReceiveArgs](raw)
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
	if args.Data != "" {
		if _, err := io.WriteString(conn, args.Data); err != nil {
			return nil, g.classify(ctx, fmt.Errorf("send request to %s:%d: %w", args.Host, args.Port, err))
		}
	}
	result := sink(conn)
	if result.Error != "" {
		return nil, g.classify(ctx, fmt.Errorf("bulk receive from %s:%d after %d bytes: %s", args.Host, args.Port, result.Bytes, result.Error))
	}
	return result, nil
}
