package main

import (
	"fmt"
	"io"
	"net"
	"time"
)

// runEcho echoes every byte back on each accepted connection.
func runEcho(args []string) error {
	fs := newFlags("echo")
	listen := fs.String("listen", "127.0.0.1:0", "TCP address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return listenAndServe("tcp", *listen, func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(c, c)
	})
}

type latencyResult struct {
	// SamplesUs holds one round-trip time per request, in microseconds.
	SamplesUs []float64 `json:"samplesUs"`
	Seconds   float64   `json:"seconds"`
	Errors    int       `json:"errors"`
}

type latencyFlags struct {
	addr  string
	size  int
	count int
	// for, when not zero, ends the run after that long even if count is not reached
	// (an RR loop running beside a bulk transfer for as long as it does).
	limit time.Duration
}

func parseLatencyFlags(name string, args []string) (latencyFlags, error) {
	fs := newFlags(name)
	var f latencyFlags
	fs.StringVar(&f.addr, "connect", "", "TCP address of an echo server")
	fs.IntVar(&f.size, "size", 64, "request and response size in bytes")
	fs.IntVar(&f.count, "count", 1000, "requests")
	fs.DurationVar(&f.limit, "for", 0, "stop after this long even if count is not reached (0: no limit)")
	err := fs.Parse(args)
	return f, err
}

// runRR measures request/response round trips over one kept connection.
func runRR(args []string) error {
	f, err := parseLatencyFlags("rr", args)
	if err != nil {
		return err
	}
	c, err := dial("tcp", f.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	req, resp := make([]byte, f.size), make([]byte, f.size)
	res, err := timeRoundTrips(f.count, f.limit, func() error { return roundTrip(c, req, resp) })
	if err != nil {
		return err
	}
	return printJSON(res)
}

// timeRoundTrips runs roundTrip count times (or until limit, when not zero, has
// passed) and records how long each took; the first failure ends the run.
func timeRoundTrips(count int, limit time.Duration, roundTrip func() error) (latencyResult, error) {
	res := latencyResult{SamplesUs: make([]float64, 0, min(count, 1<<16))}
	start := time.Now()
	for range count {
		if limit > 0 && time.Since(start) >= limit {
			break
		}
		t := time.Now()
		if err := roundTrip(); err != nil {
			return latencyResult{}, err
		}
		res.SamplesUs = append(res.SamplesUs, microseconds(time.Since(t)))
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// runCRR measures connect + request + response + close, one fresh connection each time.
// A failed attempt is counted, not fatal: connection errors are part of the result.
func runCRR(args []string) error {
	f, err := parseLatencyFlags("crr", args)
	if err != nil {
		return err
	}
	req, resp := make([]byte, f.size), make([]byte, f.size)
	res := latencyResult{SamplesUs: make([]float64, 0, f.count)}
	start := time.Now()
	for range f.count {
		t := time.Now()
		if err := connectRequestClose(f.addr, req, resp); err != nil {
			res.Errors++
			continue
		}
		res.SamplesUs = append(res.SamplesUs, microseconds(time.Since(t)))
	}
	res.Seconds = time.Since(start).Seconds()
	if res.Errors == f.count {
		return fmt.Errorf("all %d connections to %s failed", f.count, f.addr)
	}
	return printJSON(res)
}

func connectRequestClose(addr string, req, resp []byte) error {
	c, err := dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTrip(c, req, resp)
}

func roundTrip(c net.Conn, req, resp []byte) error {
	if _, err := c.Write(req); err != nil {
		return fmt.Errorf("write to %s: %w", c.RemoteAddr(), err)
	}
	if _, err := io.ReadFull(c, resp); err != nil {
		return fmt.Errorf("read from %s: %w", c.RemoteAddr(), err)
	}
	return nil
}

// dial connects to address, naming it in the error.
func dial(network, address string) (net.Conn, error) {
	c, err := net.Dial(network, address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	return c, nil
}
