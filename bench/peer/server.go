package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

// listenAndServe listens on address, tells the orchestrator where, and runs handle
// for every accepted connection until the listener fails or stdin closes.
func listenAndServe(network, address string, handle func(net.Conn)) error {
	ln, err := net.Listen(network, address)
	if err != nil {
		return fmt.Errorf("listen %s: %w", address, err)
	}
	if err := announceReady(ln.Addr().String()); err != nil {
		return err
	}
	exitWhenStdinCloses()
	return serve(ln, handle)
}

// serve runs handle for every accepted connection until the listener fails.
func serve(ln net.Listener, handle func(net.Conn)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		go handle(c)
	}
}

// announceReady tells the orchestrator where a server listens.
func announceReady(addr string) error {
	return printJSON(map[string]string{"ready": addr})
}

// exitWhenStdinCloses ends a server when its parent goes away, so a crashed
// orchestrator never leaves peers behind.
func exitWhenStdinCloses() {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
}
