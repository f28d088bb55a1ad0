//go:build linux

// Command tap-relay makes the Linux kernel a guest of a virtual network: it creates a TAP
// device in the network namespace it runs in and relays Ethernet frames, frame for frame,
// between that device and a VM socket (the QEMU stream protocol or vfkit datagrams).
// Programs run in the namespace (`ip netns exec`) are then guest programs whose TCP/IP
// stack is the kernel's.
//
//	tap-relay -tap NAME -connect PATH [-protocol qemu|vfkit]
//	tap-relay -tap NAME -listen PATH     (qemu only: the other end of a relay pair)
//
// It prints {"ready":"NAME"} on stdout once the device exists and the socket is
// connected (or listening), and runs until the socket closes or stdin closes, so it never
// outlives the process that started it. The device is not persistent: it disappears
// when the relay exits. Addresses, MTU and MAC are the caller's to set with `ip link`.
//
// The relay is built to cost little CPU per byte and per round trip: one OS thread
// polls the device and the socket (loop.go); device → socket, it drains every frame the
// device has queued (non-blocking reads) into one buffer and sends them with a single
// write; socket → device, it reads the stream in large chunks and hands the device one
// frame per write (a TAP takes exactly one frame per write).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"

	"bun-gvproxy/framing"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "tap-relay: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	tap      string
	connect  string
	listen   string
	local    string
	protocol string
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("tap-relay", flag.ContinueOnError)
	fs.StringVar(&o.tap, "tap", "", "name of the TAP device to create (at most 15 bytes)")
	fs.StringVar(&o.connect, "connect", "", "VM socket of the network to connect to")
	fs.StringVar(&o.listen, "listen", "", "Unix stream socket to listen on for one peer relay instead")
	fs.StringVar(&o.local, "local", "", "datagram protocol: the relay's own socket path (default: -connect path + .relay-<pid>)")
	fs.StringVar(&o.protocol, "protocol", "qemu", "qemu (stream, 4-byte length before each frame) or vfkit (one frame per datagram)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.tap == "" || len(o.tap) > 15:
		return o, fmt.Errorf("-tap must name a device of 1..15 bytes, got %q", o.tap)
	case (o.connect == "") == (o.listen == ""):
		return o, errors.New("exactly one of -connect and -listen is required")
	case o.protocol != "qemu" && o.protocol != "vfkit":
		return o, fmt.Errorf("-protocol must be qemu or vfkit, got %q", o.protocol)
	case o.listen != "" && o.protocol != "qemu":
		return o, errors.New("-listen supports the qemu protocol only")
	}
	return o, nil
}

func run(args []string) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	dev, err := openTap(o.tap)
	if err != nil {
		return err
	}
	defer dev.Close()
	conn, cleanup, err := dial(o)
	if err != nil {
		return err
	}
	defer cleanup()
	if err := json.NewEncoder(os.Stdout).Encode(map[string]string{"ready": o.tap}); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}
	if o.protocol == "qemu" {
		err = relayStream(dev, conn.(*net.UnixConn))
	} else {
		err = relayDatagrams(dev, conn.(*net.UnixConn))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// relayStream runs the stream relay on this goroutine's own OS thread (streamLoop).
// The socket's descriptor is used with raw syscalls from here on; Go's poller never
// waits on it, since nothing calls conn's methods again before it is closed.
func relayStream(dev *tap, conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("VM socket descriptor: %w", err)
	}
	sock := -1
	if err := raw.Control(func(fd uintptr) { sock = int(fd) }); err != nil {
		return fmt.Errorf("VM socket descriptor: %w", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return newStreamLoop(dev.fd, sock, int(os.Stdin.Fd())).run()
}

// relayDatagrams relays vfkit datagrams with one goroutine each way.
func relayDatagrams(dev *tap, conn *net.UnixConn) error {
	done := make(chan error, 3)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); done <- nil }()
	go func() { done <- datagramsToTap(conn, dev) }()
	go func() { done <- tapToDatagrams(dev, conn) }()
	return <-done
}

// dial connects (or, with -listen, accepts one peer) and returns the socket and what
// removes the files the relay created.
func dial(o options) (net.Conn, func(), error) {
	switch {
	case o.listen != "":
		_ = os.Remove(o.listen)
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: o.listen, Net: "unix"})
		if err != nil {
			return nil, nil, fmt.Errorf("listen on %s: %w", o.listen, err)
		}
		cleanup := func() { _ = l.Close() }
		if err := json.NewEncoder(os.Stdout).Encode(map[string]string{"listening": o.listen}); err != nil {
			cleanup()
			return nil, nil, err
		}
		conn, err := l.AcceptUnix()
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("accept on %s: %w", o.listen, err)
		}
		tuneBuffers(conn)
		return conn, func() { _ = conn.Close(); cleanup() }, nil
	case o.protocol == "qemu":
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: o.connect, Net: "unix"})
		if err != nil {
			return nil, nil, fmt.Errorf("connect to %s: %w", o.connect, err)
		}
		tuneBuffers(conn)
		return conn, func() { _ = conn.Close() }, nil
	default:
		local := o.local
		if local == "" {
			local = fmt.Sprintf("%s.relay-%d", o.connect, os.Getpid())
		}
		_ = os.Remove(local)
		conn, err := net.DialUnix("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"}, &net.UnixAddr{Name: o.connect, Net: "unixgram"})
		if err != nil {
			return nil, nil, fmt.Errorf("connect datagram socket %s to %s: %w", local, o.connect, err)
		}
		tuneBuffers(conn)
		cleanup := func() { _ = conn.Close(); _ = os.Remove(local) }
		if _, err := conn.Write(framing.VfkitHandshake); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("send vfkit handshake to %s: %w", o.connect, err)
		}
		return conn, cleanup, nil
	}
}

// socketBuffer is the kernel buffer asked for each way: enough for a burst of
// 64 KiB frames while the other side is busy.
const socketBuffer = 4 << 20

func tuneBuffers(c *net.UnixConn) {
	_ = c.SetReadBuffer(socketBuffer)
	_ = c.SetWriteBuffer(socketBuffer)
}
