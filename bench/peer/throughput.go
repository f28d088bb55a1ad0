package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

const chunkSize = 256 << 10

// runSink accepts connections, reads each to EOF and answers with the byte count it
// received, so the sender measures what actually arrived rather than what it queued.
func runSink(args []string) error {
	fs := newFlags("sink")
	listen := fs.String("listen", "127.0.0.1:0", "TCP address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return listenAndServe("tcp", *listen, sinkConn)
}

func sinkConn(c net.Conn) {
	defer c.Close()
	n, err := io.CopyBuffer(io.Discard, c, make([]byte, chunkSize))
	if err != nil {
		return
	}
	var ack [8]byte
	binary.BigEndian.PutUint64(ack[:], uint64(n))
	_, _ = c.Write(ack[:])
}

type throughputResult struct {
	transferRate
	Streams int `json:"streams"`
}

// runSource opens N streams to a sink, sends for the given time, half-closes and waits
// for every sink to finish; throughput is delivered bytes over the time to the last.
func runSource(args []string) error {
	fs := newFlags("source")
	addr := fs.String("connect", "", "TCP address of a sink")
	streams := fs.Int("streams", 1, "parallel connections")
	sendTime := sendTimeFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := measureSource(*addr, *streams, sendTime())
	if err != nil {
		return err
	}
	return printJSON(res)
}

func measureSource(addr string, streams int, d time.Duration) (throughputResult, error) {
	conns := make([]net.Conn, streams)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			closeAll(conns)
			return throughputResult{}, fmt.Errorf("dial %s (stream %d): %w", addr, i, err)
		}
		conns[i] = c
	}
	defer closeAll(conns)
	start := time.Now()
	deadline := start.Add(d)
	acked := make([]uint64, streams)
	errs := make([]error, streams)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acked[i], errs[i] = sendUntil(c, deadline)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return throughputResult{}, err
	}
	var total uint64
	for _, n := range acked {
		total += n
	}
	return throughputResult{transferRate: newTransferRate(total, elapsed), Streams: streams}, nil
}

// sendUntil writes chunks until the deadline, half-closes, and waits for the peer to
// close. A sink that acknowledges (ours) is believed; a sink that just reads to EOF and
// closes (the guest's) has received everything written once it closes.
func sendUntil(c net.Conn, deadline time.Time) (uint64, error) {
	buf := make([]byte, chunkSize)
	var written uint64
	for time.Now().Before(deadline) {
		n, err := c.Write(buf)
		written += uint64(n)
		if err != nil {
			return 0, fmt.Errorf("write to %s after %d bytes: %w", c.RemoteAddr(), written, err)
		}
	}
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		if err := hc.CloseWrite(); err != nil {
			return 0, fmt.Errorf("half-close %s: %w", c.RemoteAddr(), err)
		}
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		return 0, fmt.Errorf("wait for %s to close: %w", c.RemoteAddr(), err)
	}
	if len(reply) >= 8 {
		return binary.BigEndian.Uint64(reply[:8]), nil
	}
	return written, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}
