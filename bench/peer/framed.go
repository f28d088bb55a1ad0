package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// The framing is the QEMU stream protocol's: a 4-byte big-endian length, then the
// frame. The framed echo is the ceiling of the guest link with no network stack at all.

func runFramedEcho(args []string) error {
	fs := newFlags("framed-echo")
	path := fs.String("listen", "", "Unix socket path")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_ = os.Remove(*path)
	ln, err := net.Listen("unix", *path)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *path, err)
	}
	if err := announceReady(*path); err != nil {
		return err
	}
	exitWhenStdinCloses()
	return serve(ln, echoFrames)
}

// echoFrames reads whole frames and writes each back, buffered so that frames queued
// back to back leave in one write, like a switch forwarding a burst.
func echoFrames(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 1<<20)
	w := bufio.NewWriterSize(c, 1<<20)
	buf := make([]byte, 0, 1<<17)
	for {
		frame, err := readFrame(r, buf)
		if err != nil {
			return
		}
		if err := writeFrame(w, frame); err != nil {
			return
		}
		if r.Buffered() == 0 && w.Flush() != nil {
			return
		}
	}
}

func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	frame := buf[:n]
	_, err := io.ReadFull(r, frame)
	return frame, err
}

func writeFrame(w io.Writer, frame []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(frame)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(frame)
	return err
}

type framedBulkResult struct {
	Frame   int     `json:"frame"`
	Bytes   uint64  `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Gbps    float64 `json:"gbps"`
}

// runFramedBulk streams frames for the given time while reading the echoes
// concurrently; throughput counts echoed frame bytes (one direction's worth).
func runFramedBulk(args []string) error {
	fs := newFlags("framed-bulk")
	path := fs.String("connect", "", "Unix socket path of a framed echo")
	frame := fs.Int("frame", 1514, "frame size in bytes")
	seconds := fs.Float64("seconds", 3, "how long to send")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := net.Dial("unix", *path)
	if err != nil {
		return fmt.Errorf("dial %s: %w", *path, err)
	}
	defer c.Close()
	start := time.Now()
	sent, err := streamFrames(c, *frame, start.Add(time.Duration(*seconds*float64(time.Second))))
	if err != nil {
		return err
	}
	elapsed := time.Since(start).Seconds()
	return printJSON(framedBulkResult{Frame: *frame, Bytes: sent, Seconds: elapsed, Gbps: float64(sent) * 8 / elapsed / 1e9})
}

// streamFrames writes until the deadline, then reads until every echoed byte is back.
func streamFrames(c net.Conn, frameSize int, deadline time.Time) (uint64, error) {
	var sentFrames uint64
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := bufio.NewWriterSize(c, 1<<20)
		frame := make([]byte, frameSize)
		for time.Now().Before(deadline) {
			if writeErr = writeFrame(w, frame); writeErr != nil {
				return
			}
			sentFrames++
		}
		writeErr = w.Flush()
		_ = c.(*net.UnixConn).CloseWrite()
	}()
	r := bufio.NewReaderSize(c, 1<<20)
	buf := make([]byte, frameSize)
	var echoed uint64
	for {
		f, err := readFrame(r, buf)
		if err != nil {
			break
		}
		echoed += uint64(len(f))
	}
	wg.Wait()
	if writeErr != nil {
		return 0, fmt.Errorf("write frames to %s: %w", c.RemoteAddr(), writeErr)
	}
	if echoed != sentFrames*uint64(frameSize) {
		return 0, fmt.Errorf("echoed %d bytes, sent %d", echoed, sentFrames*uint64(frameSize))
	}
	return echoed, nil
}

// runFramedRR sends one frame and waits for its echo, count times.
func runFramedRR(args []string) error {
	fs := newFlags("framed-rr")
	path := fs.String("connect", "", "Unix socket path of a framed echo")
	frame := fs.Int("frame", 64, "frame size in bytes")
	count := fs.Int("count", 1000, "round trips")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := net.Dial("unix", *path)
	if err != nil {
		return fmt.Errorf("dial %s: %w", *path, err)
	}
	defer c.Close()
	out, buf := make([]byte, *frame), make([]byte, *frame)
	// Buffered both ways so a frame is one write and usually one read, as in QEMU.
	r, w := bufio.NewReader(c), bufio.NewWriterSize(c, *frame+4)
	res := latencyResult{SamplesUs: make([]float64, 0, *count)}
	start := time.Now()
	for range *count {
		t := time.Now()
		if err := writeFrame(w, out); err != nil {
			return fmt.Errorf("write frame to %s: %w", *path, err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write frame to %s: %w", *path, err)
		}
		if _, err := readFrame(r, buf); err != nil {
			return fmt.Errorf("read frame from %s: %w", *path, err)
		}
		res.SamplesUs = append(res.SamplesUs, microseconds(time.Since(t)))
	}
	res.Seconds = time.Since(start).Seconds()
	return printJSON(res)
}
