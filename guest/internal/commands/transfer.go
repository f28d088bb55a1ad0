package commands

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"bun-gvproxy/guest/internal/control"
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
	// Seconds, instead of Bytes, sends for that long (the peer's delivery comes after).
	Seconds float64 `json:"seconds"`
	timing
}

// sendDuration is Seconds as a duration.
func (a bulkSendArgs) sendDuration() time.Duration {
	return time.Duration(a.Seconds * float64(time.Second))
}

// check refuses a time-bound send that is ambiguous or could not finish within the
// command's own timeout.
func (a *bulkSendArgs) check() error {
	switch {
	case a.Seconds < 0:
		return control.WithCode(CodeBadRequest, fmt.Errorf("bulkSend: seconds %v is negative", a.Seconds))
	case a.Seconds > 0 && a.Bytes != 0:
		return control.WithCode(CodeBadRequest, fmt.Errorf("bulkSend: give bytes or seconds, not both"))
	case a.Seconds > 0 && a.timeout() <= a.sendDuration():
		return control.WithCode(CodeBadRequest, fmt.Errorf("bulkSend: timeoutMs (%d) must exceed seconds (%v) to leave time for delivery", a.timeout().Milliseconds(), a.Seconds))
	}
	return nil
}

// bulkSend connects and writes zero bytes (Bytes of them, or for Seconds), half-closes
// and waits for the peer to close, so the time covers delivery, not just buffering.
func (g *Guest) bulkSend(ctx context.Context, args bulkSendArgs) (any, error) {
	return over(ctx, g.tcpTo(args.endpoint), func(conn *gonet.TCPConn) (any, error) {
		start := time.Now()
		n, err := args.send(conn)
		if err != nil {
			return nil, g.classify(ctx, fmt.Errorf("bulk send to %s after %d bytes: %w", args.endpoint, n, err))
		}
		_ = conn.CloseWrite()
		if _, err := io.Copy(io.Discard, conn); err != nil {
			return nil, g.classify(ctx, fmt.Errorf("wait for %s to close: %w", args.endpoint, err))
		}
		return newTransferResult(n, time.Since(start), nil), nil
	})
}

// send writes the zero bytes bulkSend was asked for and reports how many it wrote.
func (a bulkSendArgs) send(w io.Writer) (int64, error) {
	if a.Seconds > 0 {
		return sendFor(w, a.sendDuration())
	}
	return io.CopyN(w, zeroReader{}, a.Bytes)
}

// sendFor writes zero bytes until d has passed, in io.Copy's chunk size so that both
// ways of bounding a send put the same writes on the wire.
func sendFor(w io.Writer, d time.Duration) (int64, error) {
	chunk := make([]byte, 32<<10)
	var sent int64
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		n, err := w.Write(chunk)
		sent += int64(n)
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

type bulkReceiveArgs struct {
	endpoint
	Data string `json:"data"` // optional request sent first
}

// bulkReceive connects, optionally sends Data, and counts bytes until the peer closes.
func (g *Guest) bulkReceive(ctx context.Context, args bulkReceiveArgs) (any, error) {
	return over(ctx, g.tcpTo(args.endpoint), func(conn *gonet.TCPConn) (any, error) {
		if args.Data != "" {
			if _, err := io.WriteString(conn, args.Data); err != nil {
				return nil, g.classify(ctx, fmt.Errorf("send request to %s: %w", args.endpoint, err))
			}
		}
		result := sink(conn)
		if result.Error != "" {
			return nil, g.classify(ctx, fmt.Errorf("bulk receive from %s after %d bytes: %s", args.endpoint, result.Bytes, result.Error))
		}
		return result, nil
	})
}
