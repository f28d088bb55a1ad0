package main

import (
	"encoding/json"
	"fmt"
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

// microseconds converts a duration to fractional microseconds, the unit of every
// latency sample the peer reports.
func microseconds(d time.Duration) float64 {
	return float64(d.Nanoseconds()) / 1e3
}

// transferRate is what a bulk result reports: bytes moved, in how long, and the rate.
type transferRate struct {
	Bytes   uint64  `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Gbps    float64 `json:"gbps"`
}

func newTransferRate(bytes uint64, seconds float64) transferRate {
	return transferRate{Bytes: bytes, Seconds: seconds, Gbps: float64(bytes) * 8 / seconds / 1e9}
}
