// Command gvguest is a userspace "VM" for testing gvisor-tap-vsock networks: it
// connects to an instance's Unix socket with the framing a VM uses, runs gVisor's
// netstack as its TCP/IP stack, and takes commands as JSON lines on stdin.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"

	"bun-gvproxy/framing"
	"bun-gvproxy/guest/internal/commands"
	"bun-gvproxy/guest/internal/control"
	"bun-gvproxy/guest/internal/link"
	"bun-gvproxy/guest/internal/netstack"
)

type options struct {
	socket    string
	transport framing.Transport
	mac       net.HardwareAddr
	mtu       uint
}

func parseFlags() (options, error) {
	socket := flag.String("socket", "", "Unix socket of the virtual network (required)")
	protocol := flag.String("protocol", "qemu", "framing: qemu (stream, length-prefixed) or vfkit (datagram)")
	mac := flag.String("mac", "5a:94:ef:e4:0c:ee", "guest MAC address")
	mtu := flag.Uint("mtu", 1500, "link MTU before DHCP (the lease's MTU option replaces it)")
	flag.Parse()
	if *socket == "" {
		return options{}, errors.New("--socket is required")
	}
	hw, err := net.ParseMAC(*mac)
	if err != nil || len(hw) != 6 {
		return options{}, fmt.Errorf("--mac %q is not an Ethernet address", *mac)
	}
	if *mtu < 576 || *mtu > 65520 {
		return options{}, fmt.Errorf("--mtu %d is outside 576..65520", *mtu)
	}
	transport, err := framing.ParseTransport(*protocol)
	if err != nil {
		return options{}, fmt.Errorf("--protocol: %w", err)
	}
	return options{socket: *socket, transport: transport, mac: hw, mtu: *mtu}, nil
}

func main() {
	log.SetPrefix("gvguest: ")
	log.SetOutput(os.Stderr)
	opts, err := parseFlags()
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if err := run(opts); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(opts options) error {
	conn, err := link.Dial(opts.socket, opts.transport)
	if err != nil {
		return err
	}
	stack, err := netstack.New(opts.mac, uint32(opts.mtu))
	if err != nil {
		_ = conn.Close()
		return err
	}
	defer stack.Close()
	pump := link.NewPump(conn, stack.Channel)
	defer pump.Close()

	guest := commands.New(stack, pump, opts.mac)
	defer guest.Close()
	ctl := control.NewServer(os.Stdout)
	guest.Register(ctl)
	go reportDisconnect(pump, ctl)

	log.Printf("connected to %s (%s) as %s", opts.socket, opts.transport, opts.mac)
	ctl.Emit(control.Event{Event: "connected"})
	return ctl.Serve(context.Background(), os.Stdin)
}

// reportDisconnect tells the controller when the network went away (the instance was
// destroyed); the guest keeps answering commands, which now fail with DISCONNECTED.
func reportDisconnect(pump *link.Pump, ctl *control.Server) {
	<-pump.Done()
	reason := pump.Err()
	if reason == nil {
		return // we closed it ourselves on exit
	}
	log.Printf("disconnected: %v", reason)
	ctl.Emit(control.Event{Event: "disconnected", Reason: reason.Error()})
}
