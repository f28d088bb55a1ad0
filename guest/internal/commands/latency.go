package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

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

// connectLoop measures connect + request + echoed response + close, Count times.
func (g *Guest) connectLoop(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[loopArgs](raw)
	if err != nil {
		return nil, err
	}
	if err := args.validate("connectLoop"); err != nil {
		return nil, err
	}
	ctx, cancel, err := g.begin(parent, raw)
	if err != nil {
		return nil, err
	}
	defer cancel()
	request, response := make([]byte, args.Size), make([]byte, args.Size)
	samples := make([]time.Duration, 0, args.Count)
	for i := 0; i < args.Count; i++ {
		start := time.Now()
		if err := g.connectOnce(ctx, args.endpoint, request, response); err != nil {
			return nil, fmt.Errorf("connectLoop iteration %d: %w", i, err)
		}
		samples = append(samples, time.Since(start))
	}
	return summarize(samples), nil
}

func (g *Guest) connectOnce(ctx context.Context, to endpoint, request, response []byte) error {
	conn, err := g.dialTCP(ctx, to.Host, to.Port)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer bindToContext(ctx, conn)()
	if _, err := conn.Write(request); err != nil {
		return g.classify(ctx, fmt.Errorf("send: %w", err))
	}
	if _, err := io.ReadFull(conn, response); err != nil {
		return g.classify(ctx, fmt.Errorf("receive: %w", err))
	}
	return nil
}

// requestLoop measures request/echoed-response round trips on one connection.
func (g *Guest) requestLoop(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[loopArgs](raw)
	if err != nil {
		return nil, err
	}
	if err := args.validate("requestLoop"); err != nil {
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
	request, response := make([]byte, args.Size), make([]byte, args.Size)
	samples := make([]time.Duration, 0, args.Count)
	for i := 0; i < args.Count; i++ {
		start := time.Now()
		if _, err := conn.Write(request); err != nil {
			return nil, g.classify(ctx, fmt.Errorf("requestLoop iteration %d: send: %w", i, err))
		}
		if _, err := io.ReadFull(conn, response); err != nil {
			return nil, g.classify(ctx, fmt.Errorf("requestLoop iteration %d: receive: %w", i, err))
		}
		samples = append(samples, time.Since(start))
	}
	return summarize(samples), nil
}
