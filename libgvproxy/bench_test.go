package main

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
)

// BenchmarkPortForwardTCP streams host -> port forward -> gateway stack -> QEMU socket ->
// a gVisor test guest, at two MTUs. The test guest is itself a gVisor stack in this
// process, so the figure is a lower bound for a real VM; it is for comparing changes,
// not an assertion.
func BenchmarkPortForwardTCP(b *testing.B) {
	for _, mtu := range []int{1500, 65520} {
		b.Run(fmt.Sprintf("mtu=%d", mtu), func(b *testing.B) {
			path := filepath.Join(testDir(b), "net.sock")
			port := freeTCPPort(b)
			res := mustCreate(b, configJSON(b, path, map[string]any{"mtu": mtu, "portMappings": []any{
				map[string]any{"hostPort": port, "guestPort": 80},
			}}))
			g := startGuestStackMTU(b, path, uint32(mtu))
			ln := g.listenTCP(b, 80)
			done := make(chan int64, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					done <- -1
					return
				}
				n, _ := io.Copy(io.Discard, conn)
				_ = conn.Close()
				done <- n
			}()
			conn, err := net.Dial("tcp", addr(port))
			if err != nil {
				b.Fatal(err)
			}
			chunk := make([]byte, 256<<10)
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := conn.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			_ = conn.(*net.TCPConn).CloseWrite()
			if n := <-done; n != int64(b.N*len(chunk)) {
				b.Fatalf("guest received %d bytes, want %d", n, b.N*len(chunk))
			}
			b.StopTimer()
			_ = conn.Close()
			st, _ := instanceStats(int64(res.ID))
			gs := g.Stack.Stats().TCP
			b.Logf("gateway tcp %+v; guest retransmits %d timeouts %d", st.TCP, gs.Retransmits.Value(), gs.Timeouts.Value())
		})
	}
}
