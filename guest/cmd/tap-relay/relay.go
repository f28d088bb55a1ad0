//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"bun-gvproxy/framing"
)

// batchSize bounds what one socket write carries device → socket: up to dozens of
// MTU-1500 frames, always room for at least one largest frame.
const batchSize = 256 << 10

// streamReadSize is how much one read from the stream socket may bring in.
const streamReadSize = 256 << 10

// tapToStream drains the device into length-prefixed frames and writes each batch to
// the socket with one write: under load a write carries many frames, idle it carries
// the one frame that woke the relay, so latency is not traded for batching.
func tapToStream(dev *tap, conn io.Writer) error {
	buf := make([]byte, batchSize)
	used := 0
	for {
		if len(buf)-used < framing.PrefixSize+framing.MaxFrameSize {
			if err := flush(conn, buf[:used]); err != nil {
				return err
			}
			used = 0
		}
		n, err := dev.read(buf[used+framing.PrefixSize:])
		if err != nil {
			return err
		}
		if n > 0 {
			framing.PutPrefix(buf[used:], n)
			used += framing.PrefixSize + n
			continue
		}
		if used > 0 {
			if err := flush(conn, buf[:used]); err != nil {
				return err
			}
			used = 0
		}
		if err := dev.wait(pollIn); err != nil {
			return err
		}
	}
}

func flush(conn io.Writer, b []byte) error {
	if _, err := conn.Write(b); err != nil {
		return fmt.Errorf("write to the VM socket: %w", err)
	}
	return nil
}

// streamToTap reads the socket in large chunks and writes each frame to the device.
func streamToTap(conn io.Reader, dev *tap) error {
	frames := framing.NewStreamReader(conn, streamReadSize, framing.Limits{Min: framing.EthernetHeaderSize, Max: framing.MaxFrameSize})
	buf := make([]byte, framing.MaxFrameSize)
	for {
		n, err := frames.ReadFrame(buf)
		if err != nil {
			return fmt.Errorf("read from the VM socket: %w", err)
		}
		if err := dev.write(buf[:n]); err != nil {
			return err
		}
	}
}

// tapToDatagrams sends each frame of the device as one datagram (the vfkit protocol).
func tapToDatagrams(dev *tap, conn *net.UnixConn) error {
	buf := make([]byte, framing.MaxFrameSize)
	for {
		n, err := dev.read(buf)
		if err != nil {
			return err
		}
		if n == 0 {
			if err := dev.wait(pollIn); err != nil {
				return err
			}
			continue
		}
		if _, err := conn.Write(buf[:n]); err != nil && !errors.Is(err, syscall.ENOBUFS) {
			return fmt.Errorf("send to the VM socket: %w", err)
		}
	}
}

// datagramsToTap writes each datagram of the socket to the device as one frame.
func datagramsToTap(conn *net.UnixConn, dev *tap) error {
	buf := make([]byte, framing.MaxFrameSize)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return fmt.Errorf("receive from the VM socket: %w", err)
		}
		if err := dev.write(buf[:n]); err != nil {
			return err
		}
	}
}
