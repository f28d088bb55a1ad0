package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"bun-gvproxy/guest/internal/control"
	"bun-gvproxy/guest/internal/netstack"
)

// server is something listening on a guest port.
type server struct {
	close func()
	// sinkResults receives one transferResult per finished connection (mode "sink").
	sinkResults chan transferResult
}

type serveTCPArgs struct {
	Port uint16 `json:"port"`
	// Mode: "echo" (default) echoes until the peer half-closes; "http" answers every
	// request with Body; "sink" reads and counts; "source" writes Bytes then closes.
	Mode  string `json:"mode"`
	Body  string `json:"body"`
	Bytes int64  `json:"bytes"`
}

func serverKey(protocol string, port uint16) string { return protocol + ":" + strconv.Itoa(int(port)) }

// checkFree fails early, with a clear message, when the guest already serves key.
func (g *Guest) checkFree(key string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, exists := g.servers[key]; exists {
		return control.WithCode(CodeBadRequest, fmt.Errorf("already serving %s", key))
	}
	return nil
}

func (g *Guest) addServer(key string, s *server) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, exists := g.servers[key]; exists {
		return control.WithCode(CodeBadRequest, fmt.Errorf("already serving %s", key))
	}
	g.servers[key] = s
	return nil
}

// serveTCP listens on a guest TCP port so the host can reach it through a forward.
func (g *Guest) serveTCP(_ context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[serveTCPArgs](raw)
	if err != nil {
		return nil, err
	}
	if args.Mode == "" {
		args.Mode = "echo"
	}
	key := serverKey("tcp", args.Port)
	if err := g.checkFree(key); err != nil {
		return nil, err
	}
	ln, err := gonet.ListenTCP(g.Stack.Stack, tcpip.FullAddress{NIC: netstack.NICID, Port: args.Port}, ipv4.ProtocolNumber)
	if err != nil {
		return nil, fmt.Errorf("listen on tcp port %d: %w", args.Port, err)
	}
	s, start, err := args.server(ln)
	if err == nil {
		err = g.addServer(key, s)
	}
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	go start()
	return map[string]any{"port": args.Port, "mode": args.Mode}, nil
}

// server is what serves Mode on ln, and start begins serving.
func (a serveTCPArgs) server(ln net.Listener) (s *server, start func(), err error) {
	s = &server{close: func() { _ = ln.Close() }}
	switch a.Mode {
	case "echo":
		return s, func() { acceptLoop(ln, echo) }, nil
	case "sink":
		s.sinkResults = make(chan transferResult, 64)
		return s, func() { acceptLoop(ln, func(c net.Conn) { s.sinkResults <- sink(c) }) }, nil
	case "source":
		return s, func() { acceptLoop(ln, func(c net.Conn) { source(c, a.Bytes) }) }, nil
	case "http":
		srv := &http.Server{Handler: fixedBody(a.Body), ReadHeaderTimeout: 10 * time.Second}
		s.close = func() { _ = srv.Close() }
		return s, func() { _ = srv.Serve(ln) }, nil
	default:
		return nil, nil, control.WithCode(CodeBadRequest, fmt.Errorf("serveTcp: unknown mode %q (echo, http, sink, source)", a.Mode))
	}
}

func acceptLoop(ln net.Listener, handle func(net.Conn)) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return // listener closed
		}
		go func() {
			defer conn.Close()
			handle(conn)
		}()
	}
}

// echo returns everything it reads and closes after the peer half-closes.
func echo(c net.Conn) {
	if _, err := io.Copy(c, c); err != nil {
		log.Printf("echo %s: %v", c.RemoteAddr(), err)
	}
}

func source(c net.Conn, n int64) {
	if _, err := io.CopyN(c, zeroReader{}, n); err != nil {
		log.Printf("source %s: %v", c.RemoteAddr(), err)
	}
}

func fixedBody(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
	})
}

type serveUDPArgs struct {
	Port uint16 `json:"port"`
}

// serveUDP echoes every datagram back to its sender.
func (g *Guest) serveUDP(_ context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[serveUDPArgs](raw)
	if err != nil {
		return nil, err
	}
	if err := g.checkFree(serverKey("udp", args.Port)); err != nil {
		return nil, err
	}
	conn, err := gonet.DialUDP(g.Stack.Stack, &tcpip.FullAddress{NIC: netstack.NICID, Port: args.Port}, nil, ipv4.ProtocolNumber)
	if err != nil {
		return nil, fmt.Errorf("listen on udp port %d: %w", args.Port, err)
	}
	if err := g.addServer(serverKey("udp", args.Port), &server{close: func() { _ = conn.Close() }}); err != nil {
		_ = conn.Close()
		return nil, err
	}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if _, err := conn.WriteTo(buf[:n], from); err != nil {
				log.Printf("udp echo to %s: %v", from, err)
			}
		}
	}()
	return map[string]any{"port": args.Port}, nil
}

type stopServeArgs struct {
	Port     uint16 `json:"port"`
	Protocol string `json:"protocol"` // "tcp" (default) or "udp"
}

func (g *Guest) stopServe(_ context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[stopServeArgs](raw)
	if err != nil {
		return nil, err
	}
	if args.Protocol == "" {
		args.Protocol = "tcp"
	}
	key := serverKey(args.Protocol, args.Port)
	g.mu.Lock()
	s, ok := g.servers[key]
	delete(g.servers, key)
	g.mu.Unlock()
	if !ok {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("not serving %s", key))
	}
	s.close()
	return map[string]any{"stopped": key}, nil
}

// sinkResult waits for the next connection a "sink" server finished counting.
func (g *Guest) sinkResult(parent context.Context, raw json.RawMessage) (any, error) {
	args, err := decode[stopServeArgs](raw)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	s, ok := g.servers[serverKey("tcp", args.Port)]
	g.mu.Unlock()
	if !ok || s.sinkResults == nil {
		return nil, control.WithCode(CodeBadRequest, fmt.Errorf("no sink server on tcp port %d", args.Port))
	}
	ctx, cancel, err := g.begin(parent, raw)
	if err != nil {
		return nil, err
	}
	defer cancel()
	select {
	case r := <-s.sinkResults:
		return r, nil
	case <-ctx.Done():
		return nil, g.classify(ctx, fmt.Errorf("no sink connection finished on port %d: %w", args.Port, ctx.Err()))
	}
}
