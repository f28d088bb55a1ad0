//go:build linux

package main

import (
	"errors"
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

// read returns one frame, or (0, nil) when none is queued.
func (t *tap) read(buf []byte) (int, error) {
	for {
		n, err := unix.Read(t.fd, buf)
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, unix.EAGAIN):
			return 0, nil
		case errors.Is(err, unix.EINTR):
			continue
		default:
			return 0, fmt.Errorf("read %s: %w", t.name, err)
		}
	}
}

// write hands the device one frame, waiting for room if its queue is full.
func (t *tap) write(frame []byte) error {
	for {
		_, err := unix.Write(t.fd, frame)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EAGAIN):
			if err := t.wait(unix.POLLOUT); err != nil {
				return err
			}
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EIO), errors.Is(err, unix.EINVAL):
			// The device is down or the frame is malformed for it: dropped, like a
			// NIC would, and the relay goes on.
			return nil
		default:
			return fmt.Errorf("write %s: %w", t.name, err)
		}
	}
}

// wait blocks until the device is readable (POLLIN) or writable (POLLOUT).
func (t *tap) wait(events int16) error {
	fds := []unix.PollFd{{Fd: int32(t.fd), Events: events}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil || !errors.Is(err, unix.EINTR) {
			if err != nil {
				return fmt.Errorf("poll %s: %w", t.name, err)
			}
			return nil
		}
	}
}

func (t *tap) Close() error { return os.NewFile(uintptr(t.fd), t.name).Close() }
