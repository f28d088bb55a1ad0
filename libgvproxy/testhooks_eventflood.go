//go:build gvproxytest

package main

/*
#include <stdint.h>
*/
import "C"

import (
	"net/netip"
	"sync"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/network"
)

// maxEventFlood bounds gvproxy_test_event_flood so a wrong argument cannot exhaust the
// process.
const maxEventFlood = 100_000_000

var eventFloodRunning sync.WaitGroup

// gvproxy_test_event_flood is a benchmark hook (bench/workers/event-flood.ts): it starts
// a goroutine recording `flows` synthetic NAT connections (an open and a close event
// each, when connection events have a listener) on instance id, as fast as it can, and
// returns 0 at once (-1 for an unknown instance or an argument out of range).
//
//export gvproxy_test_event_flood
func gvproxy_test_event_flood(id C.int64_t, flows C.int32_t) (rc C.int32_t) {
	defer recoverInt32("gvproxy_test_event_flood", &rc, -1)
	n, ok := instances.Get(int64(id))
	if !ok || flows < 0 || flows > maxEventFlood {
		return -1
	}
	eventFloodRunning.Add(1)
	go func() {
		defer eventFloodRunning.Done()
		floodEvents(n, int(flows))
	}()
	return 0
}

func floodEvents(n *network.Network, flows int) {
	conn := audit.Conn{Proto: "tcp", Via: audit.ViaNAT,
		Source:      audit.AddrPort(netip.MustParseAddrPort("192.168.127.2:40000")),
		Destination: audit.AddrPort(netip.MustParseAddrPort("203.0.113.7:443")), Name: "flood.example"}
	for range flows {
		n.Audit().Open(conn).Close(512, 4096)
	}
}

// gvproxy_test_event_flood_wait blocks until every flood goroutine has finished; 0.
//
//export gvproxy_test_event_flood_wait
func gvproxy_test_event_flood_wait() (rc C.int32_t) {
	defer recoverInt32("gvproxy_test_event_flood_wait", &rc, -1)
	eventFloodRunning.Wait()
	return 0
}
