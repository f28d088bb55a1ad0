package main

import (
	"bufio"
	"encoding/binary"
	"flag"
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
	_ = os.Remove(*path) // a socket left by an earlier run
	return listenAndServe("unix", *path, echoFrames)
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
	count := fs.Int("count", 1000, "round trips")
	echo, err := connectFramedEcho(fs, args, 64)
	if err != nil {
		return err
	}
	defer echo.conn.Close()
	out, buf := make([]byte, echo.frame), make([]byte, echo.frame)
	// Buffered both ways so a frame is one write and usually one read, as in QEMU.
	r, w := bufio.NewReader(echo.conn), bufio.NewWriterSize(echo.conn, echo.frame+4)
	res, err := timeRoundTrips(*count, func() error { return frameRoundTrip(r, w, out, buf) })
	if err != nil {
		return fmt.Errorf("%s: %w", echo.path, err)
	}
	return printJSON(res)
}

// frameRoundTrip writes out as one frame and reads the echoed frame into buf.
func frameRoundTrip(r io.Reader, w *bufio.Writer, out, buf []byte) error {
	if err := writeFrame(w, out); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	if _, err := readFrame(r, buf); err != nil {
		return fmt.Errorf("read frame: %w", err)
	}
	return nil
}
