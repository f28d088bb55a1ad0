//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"bun-gvproxy/framing"
)

// streamLoop relays between the TAP device and a QEMU stream socket on one OS thread,
// both descriptors non-blocking, waiting in one poll(2) for whichever side can move:
// no goroutine hand-offs, so a frame crosses the relay with a read, a write and no
// scheduler wake-up between them (the relay's share of a round trip's latency).
//
// Device → socket: every frame the device has queued is read into one buffer behind its
// length prefix and the batch leaves in one write. Socket → device: the stream is read
// in large chunks and each whole frame is written to the device (a TAP takes exactly
// one frame per write). A side that cannot take more (EAGAIN) keeps its pending bytes
// and is polled for POLLOUT; its reader stops until they are gone, so nothing is
// buffered without bound. stdin's end (the owner went away) ends the loop.
type streamLoop struct {
	tap, sock, stdin int
	limits           framing.Limits

	out     []byte // device → socket: prefixed frames
	outLen  int    // bytes of out filled
	outSent int    // bytes of out already written to the socket

	in      []byte // socket → device: raw stream bytes
	inStart int    // first byte not yet written to the device
	inEnd   int    // end of the bytes read
}

// Sizes of the two buffers: dozens of MTU-1500 frames per syscall, and always room
// for at least one largest frame with its prefix.
const (
	loopOutSize = 256 << 10
	loopInSize  = 256 << 10
)

func newStreamLoop(tap, sock, stdin int) *streamLoop {
	return &streamLoop{
		tap: tap, sock: sock, stdin: stdin,
		limits: framing.Limits{Min: framing.EthernetHeaderSize, Max: framing.MaxFrameSize},
		out:    make([]byte, loopOutSize),
		in:     make([]byte, loopInSize),
	}
}

// run relays until a side closes or fails; io.EOF is a clean end (socket or stdin).
func (l *streamLoop) run() error {
	fds := []unix.PollFd{{Fd: int32(l.tap)}, {Fd: int32(l.sock)}, {Fd: int32(l.stdin), Events: unix.POLLIN}}
	for {
		moved, err := l.step()
		if err != nil {
			return err
		}
		if moved {
			continue
		}
		fds[0].Events, fds[1].Events = l.interest()
		if err := poll(fds); err != nil {
			return err
		}
		if fds[2].Revents != 0 {
			if done, err := stdinClosed(l.stdin); done || err != nil {
				return io.EOF
			}
		}
		if fds[1].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			return errors.New("the VM socket failed")
		}
	}
}

// interest is what to wait for on the device and the socket.
func (l *streamLoop) interest() (tap, sock int16) {
	if l.outSent < l.outLen {
		sock |= unix.POLLOUT
	} else {
		tap |= unix.POLLIN
	}
	if l.frameReady() {
		tap |= unix.POLLOUT
	} else {
		sock |= unix.POLLIN
	}
	return tap, sock
}

// step moves what can move without waiting and reports whether anything did.
func (l *streamLoop) step() (bool, error) {
	a, err := l.deviceToSocket()
	if err != nil {
		return false, err
	}
	b, err := l.socketToDevice()
	return a || b, err
}

// deviceToSocket flushes the pending batch, or drains the device into a new one and
// sends it.
func (l *streamLoop) deviceToSocket() (bool, error) {
	moved := false
	if l.outSent == l.outLen {
		l.outSent, l.outLen = 0, 0
		for len(l.out)-l.outLen >= framing.PrefixSize+framing.MaxFrameSize {
			n, err := readNonblocking(l.tap, l.out[l.outLen+framing.PrefixSize:])
			if err != nil {
				return false, fmt.Errorf("read the TAP device: %w", err)
			}
			if n == 0 {
				break
			}
			framing.PutPrefix(l.out[l.outLen:], n)
			l.outLen += framing.PrefixSize + n
			moved = true
		}
	}
	if l.outSent < l.outLen {
		n, err := writeNonblocking(l.sock, l.out[l.outSent:l.outLen])
		if err != nil {
			return false, fmt.Errorf("write to the VM socket: %w", err)
		}
		l.outSent += n
		moved = moved || n > 0
	}
	return moved, nil
}

// socketToDevice writes every whole buffered frame to the device, then reads more of
// the stream when the device took them all.
func (l *streamLoop) socketToDevice() (bool, error) {
	moved := false
	for l.frameReady() {
		size, _ := l.nextSize()
		frame := l.in[l.inStart+framing.PrefixSize : l.inStart+framing.PrefixSize+size]
		ok, err := writeFrame(l.tap, frame)
		if err != nil {
			return false, err
		}
		if !ok {
			return moved, nil // the device queue is full: poll for POLLOUT
		}
		l.inStart += framing.PrefixSize + size
		moved = true
	}
	if size, ok := l.nextSize(); ok {
		if err := l.limits.Check(size); err != nil {
			return false, fmt.Errorf("read from the VM socket: %w", err)
		}
	}
	l.compact()
	n, err := readNonblocking(l.sock, l.in[l.inEnd:])
	switch {
	case err != nil:
		return false, fmt.Errorf("read from the VM socket: %w", err)
	case n < 0:
		if l.inEnd > l.inStart {
			return false, fmt.Errorf("read from the VM socket: %w", framing.ErrTruncated)
		}
		return false, io.EOF
	}
	l.inEnd += n
	return moved || n > 0, nil
}

// nextSize is the length prefix at inStart, if all four bytes are there.
func (l *streamLoop) nextSize() (int, bool) {
	if l.inEnd-l.inStart < framing.PrefixSize {
		return 0, false
	}
	b := l.in[l.inStart:]
	return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]), true
}

// frameReady reports whether a whole valid frame is buffered.
func (l *streamLoop) frameReady() bool {
	size, ok := l.nextSize()
	return ok && l.limits.Check(size) == nil && l.inEnd-l.inStart >= framing.PrefixSize+size
}

// compact moves a partial frame to the front once the buffer lacks room for the largest.
func (l *streamLoop) compact() {
	if l.inStart == l.inEnd {
		l.inStart, l.inEnd = 0, 0
		return
	}
	if len(l.in)-l.inStart < framing.PrefixSize+framing.MaxFrameSize {
		l.inEnd = copy(l.in, l.in[l.inStart:l.inEnd])
		l.inStart = 0
	}
}

// stdinClosed drains what stdin has and reports whether it reached its end.
func stdinClosed(fd int) (bool, error) {
	var buf [512]byte
	n, err := unix.Read(fd, buf[:])
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return false, nil
	}
	return n == 0 || err != nil, nil
}
