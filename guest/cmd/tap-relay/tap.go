//go:build linux

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// pollIn is the event the device reader waits for.
const pollIn = unix.POLLIN

// tap is a TAP device opened without packet information (each read or write is exactly
// one Ethernet frame). The descriptor is non-blocking so the reader can drain the queue
// and learn when it is empty; waits go through poll(2).
type tap struct {
	fd   int
	name string
}

func openTap(name string) (*tap, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	req, err := unix.NewIfreq(name)
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("TAP name %q: %w", name, err)
	}
	req.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, req); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("create TAP device %s: %w", name, err)
	}
	return &tap{fd: fd, name: name}, nil
}

// read returns one frame, or (0, nil) when none is queued (a TAP device has no end of
// stream, so readNonblocking's -1 does not occur).
func (t *tap) read(buf []byte) (int, error) {
	n, err := readNonblocking(t.fd, buf)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", t.name, err)
	}
	return max(n, 0), nil
}

// write hands the device one frame, waiting for room if its queue is full.
func (t *tap) write(frame []byte) error {
	for {
		written, err := writeFrame(t.fd, frame)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if written {
			return nil
		}
		if err := t.wait(unix.POLLOUT); err != nil {
			return err
		}
	}
}

// wait blocks until the device is readable (POLLIN) or writable (POLLOUT).
func (t *tap) wait(events int16) error {
	if err := poll([]unix.PollFd{{Fd: int32(t.fd), Events: events}}); err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	return nil
}

func (t *tap) Close() error { return os.NewFile(uintptr(t.fd), t.name).Close() }
