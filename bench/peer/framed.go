package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"bun-gvproxy/framing"
)

// The framing is the QEMU stream protocol's (the shared framing module): a 4-byte
// big-endian length, then the frame. The framed echo is the ceiling of the guest link
// with no network stack at all.

// peerBuffer is the read and write buffer of the bulk paths: frames queued back to back
// leave, and arrive, many per syscall.
const peerBuffer = 1 << 20

// anyFrame accepts every frame either transport can carry.
var anyFrame = framing.Limits{Max: framing.MaxFrameSize}

func runFramedEcho(args []string) error {
	fs := newFlags("framed-echo")
	path := fs.String("listen", "", "Unix socket path")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_ = os.Remove(*path) // a socket left by an earlier run
	return listenAndServe("unix", *path, echoFrames)
}

// echoFrames reads whole frames and writes each back, buffered so that frames queued
// back to back leave in one write, like a switch forwarding a burst.
func echoFrames(c net.Conn) {
	defer c.Close()
	r := framing.NewStreamReader(c, peerBuffer, anyFrame)
	w := framing.NewStreamWriter(c, peerBuffer, framing.MaxFrameSize)
	buf := make([]byte, framing.MaxFrameSize)
	for {
		n, err := r.ReadFrame(buf)
		if err != nil {
			return
		}
		if err := w.WriteFrame(buf[:n]); err != nil {
			return
		}
		if r.Buffered() == 0 && w.Flush() != nil {
			return
		}
	}
}

// framedEchoClient is a connection to a framed echo and the frame size to send on it.
type framedEchoClient struct {
	conn  net.Conn
	path  string
	frame int
}

// connectFramedEcho parses the flags of fs (which the caller has added its own to)
// with -connect and -frame, and dials the framed echo.
func connectFramedEcho(fs *flag.FlagSet, args []string, defaultFrame int) (framedEchoClient, error) {
	path := fs.String("connect", "", "Unix socket path of a framed echo")
	frame := fs.Int("frame", defaultFrame, "frame size in bytes")
	if err := fs.Parse(args); err != nil {
		return framedEchoClient{}, err
	}
	c, err := dial("unix", *path)
	if err != nil {
		return framedEchoClient{}, err
	}
	return framedEchoClient{conn: c, path: *path, frame: *frame}, nil
}

type framedBulkResult struct {
	Frame int `json:"frame"`
	transferRate
}

// runFramedBulk streams frames for the given time while reading the echoes
// concurrently; throughput counts echoed frame bytes (one direction's worth).
func runFramedBulk(args []string) error {
	fs := newFlags("framed-bulk")
	sendTime := sendTimeFlag(fs)
	echo, err := connectFramedEcho(fs, args, 1514)
	if err != nil {
		return err
	}
	defer echo.conn.Close()
	start := time.Now()
	sent, err := streamFrames(echo.conn, echo.frame, start.Add(sendTime()))
	if err != nil {
		return err
	}
	elapsed := time.Since(start).Seconds()
	return printJSON(framedBulkResult{Frame: echo.frame, transferRate: newTransferRate(sent, elapsed)})
}

// streamFrames writes until the deadline, then reads until every echoed byte is back.
func streamFrames(c net.Conn, frameSize int, deadline time.Time) (uint64, error) {
	var sentFrames uint64
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := framing.NewStreamWriter(c, peerBuffer, framing.MaxFrameSize)
		frame := make([]byte, frameSize)
		for time.Now().Before(deadline) {
			if writeErr = w.WriteFrame(frame); writeErr != nil {
				return
			}
			sentFrames++
		}
		writeErr = w.Flush()
		_ = c.(*net.UnixConn).CloseWrite()
	}()
	r := framing.NewStreamReader(c, peerBuffer, anyFrame)
	buf := make([]byte, frameSize)
	var echoed uint64
	for {
		n, err := r.ReadFrame(buf)
		if err != nil {
			break
		}
		echoed += uint64(n)
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
	count := fs.Int("count", 1000, "round trips")
	echo, err := connectFramedEcho(fs, args, 64)
	if err != nil {
		return err
	}
	defer echo.conn.Close()
	out, buf := make([]byte, echo.frame), make([]byte, echo.frame)
	// Buffered both ways so a frame is one write and usually one read, as in QEMU.
	r := framing.NewStreamReader(echo.conn, 4096, anyFrame)
	w := framing.NewStreamWriter(echo.conn, echo.frame+framing.PrefixSize, framing.MaxFrameSize)
	res, err := timeRoundTrips(*count, 0, func() error { return frameRoundTrip(r, w, out, buf) })
	if err != nil {
		return fmt.Errorf("%s: %w", echo.path, err)
	}
	return printJSON(res)
}

// frameRoundTrip writes out as one frame and reads the echoed frame into buf.
func frameRoundTrip(r *framing.StreamReader, w *framing.StreamWriter, out, buf []byte) error {
	if err := w.WriteFrame(out); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	if _, err := r.ReadFrame(buf); err != nil {
		return fmt.Errorf("read frame: %w", err)
	}
	return nil
}
