package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// printJSON writes one result object as a single line on stdout.
func printJSON(v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = fmt.Fprintln(os.Stdout, string(line))
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// announceReady tells the orchestrator where a server listens.
func announceReady(addr string) error {
	return printJSON(map[string]string{"ready": addr})
}

// exitWhenStdinCloses ends a server when its parent goes away, so a crashed
// orchestrator never leaves peers behind.
func exitWhenStdinCloses() {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
}

// microseconds converts a duration to fractional microseconds, the unit of every
// latency sample the peer reports.
func microseconds(d time.Duration) float64 {
	return float64(d.Nanoseconds()) / 1e3
}
