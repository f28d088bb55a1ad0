//go:build linux

package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The relay's descriptors are non-blocking and waited on with poll(2); these are the
// only places that issue their reads, writes and polls, so the rules for EINTR (retry),
// EAGAIN (nothing now: poll) and a frame the TAP device refuses live once.

// nonblocking runs one read or write, again while a signal interrupts it. wouldBlock is
// EAGAIN: nothing to read or no room to write now, which is not an error.
func nonblocking(call func() (int, error)) (n int, wouldBlock bool, err error) {
	for {
		n, err = call()
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, true, nil
		}
		return n, false, err
	}
}

// readNonblocking reads what is there: (0, nil) when nothing is, (-1, nil) at end of
// stream.
func readNonblocking(fd int, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	n, wouldBlock, err := nonblocking(func() (int, error) { return unix.Read(fd, buf) })
	switch {
	case err != nil:
		return 0, err
	case wouldBlock:
		return 0, nil
	case n == 0:
		return -1, nil
	}
	return n, nil
}

// writeNonblocking writes what the descriptor takes now (0 when it takes nothing).
func writeNonblocking(fd int, buf []byte) (int, error) {
	n, _, err := nonblocking(func() (int, error) { return unix.Write(fd, buf) })
	if err != nil {
		return 0, err
	}
	return n, nil
}

// writeFrame hands the device one frame; false means its queue is full (try again
// after POLLOUT). A frame the device refuses (down, malformed) is dropped as a NIC would,
// and the relay goes on.
func writeFrame(tap int, frame []byte) (bool, error) {
	_, full, err := nonblocking(func() (int, error) { return unix.Write(tap, frame) })
	switch {
	case full:
		return false, nil
	case errors.Is(err, unix.EIO), errors.Is(err, unix.EINVAL):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("write the TAP device: %w", err)
	}
	return true, nil
}

// poll waits, without a timeout, for an event on any of fds.
func poll(fds []unix.PollFd) error {
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll: %w", err)
		}
	}
}
