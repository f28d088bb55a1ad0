package commands

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"bun-gvproxy/guest/internal/control"
)

// latencySummary describes a set of round-trip times in microseconds.
type latencySummary struct {
	Count  int     `json:"count"`
	MinUs  float64 `json:"minUs"`
	MeanUs float64 `json:"meanUs"`
	P50Us  float64 `json:"p50Us"`
	P90Us  float64 `json:"p90Us"`
	P99Us  float64 `json:"p99Us"`
	MaxUs  float64 `json:"maxUs"`
}

func summarize(samples []time.Duration) latencySummary {
	if len(samples) == 0 {
		return latencySummary{}
	}
	slices.Sort(samples)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	at := func(q float64) float64 { return us(samples[min(len(samples)-1, int(q*float64(len(samples))))]) }
	var total time.Duration
	for _, s := range samples {
		total += s
	}
	return latencySummary{
		Count: len(samples), MinUs: us(samples[0]), MeanUs: us(total) / float64(len(samples)),
		P50Us: at(0.50), P90Us: at(0.90), P99Us: at(0.99), MaxUs: us(samples[len(samples)-1]),
	}
}

type loopArgs struct {
	endpoint
	Count int `json:"count"`
	Size  int `json:"size"` // request size; the peer must echo it back
}

func (a *loopArgs) validate(cmd string) error {
	if a.Count <= 0 {
		return control.WithCode(CodeBadRequest, fmt.Errorf("%s: count must be positive", cmd))
	}
	if a.Size <= 0 {
		a.Size = 1
	}
	return nil
}

type connectLoopArgs struct{ loopArgs }

func (a *connectLoopArgs) check() error { return a.validate("connectLoop") }

type requestLoopArgs struct{ loopArgs }

func (a *requestLoopArgs) check() error { return a.validate("requestLoop") }

// connectLoop measures connect + request + echoed response + close, Count times.
func (g *Guest) connectLoop(ctx context.Context, args connectLoopArgs) (any, error) {
	request, response := make([]byte, args.Size), make([]byte, args.Size)
	return timeRounds("connectLoop", args.Count, func() error {
		_, err := over(ctx, g.tcpTo(args.endpoint), func(conn *gonet.TCPConn) (struct{}, error) {
			return struct{}{}, g.echoRound(ctx, conn, request, response)
		})
		return err
	})
}

// requestLoop measures request/echoed-response round trips on one connection.
func (g *Guest) requestLoop(ctx context.Context, args requestLoopArgs) (any, error) {
	return over(ctx, g.tcpTo(args.endpoint), func(conn *gonet.TCPConn) (any, error) {
		request, response := make([]byte, args.Size), make([]byte, args.Size)
		return timeRounds("requestLoop", args.Count, func() error {
			return g.echoRound(ctx, conn, request, response)
		})
	})
}

// timeRounds runs round count times and summarizes how long each took; the first
// round that fails ends the loop.
func timeRounds(cmd string, count int, round func() error) (latencySummary, error) {
	samples := make([]time.Duration, 0, count)
	for i := 0; i < count; i++ {
		start := time.Now()
		if err := round(); err != nil {
			return latencySummary{}, fmt.Errorf("%s iteration %d: %w", cmd, i, err)
		}
		samples = append(samples, time.Since(start))
	}
	return summarize(samples), nil
}

// echoRound sends request and reads the peer's echo of it into response.
func (g *Guest) echoRound(ctx context.Context, conn net.Conn, request, response []byte) error {
	if _, err := conn.Write(request); err != nil {
		return g.classify(ctx, fmt.Errorf("send: %w", err))
	}
	if _, err := io.ReadFull(conn, response); err != nil {
		return g.classify(ctx, fmt.Errorf("receive: %w", err))
	}
	return nil
}
