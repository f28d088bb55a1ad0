//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"bun-gvproxy/framing"
)

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
