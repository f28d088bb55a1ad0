package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"bun-gvproxy/libgvproxy/internal/errs"
)

// TestSetAllowNetCutsALiveConnectionWhileForwardsChurn drives the live controls
// concurrently (run it with -race): a guest connection to the host is reset by
// setAllowNet, while forwards are exposed and unexposed and events drained.
func TestSetAllowNetCutsALiveConnectionWhileForwardsChurn(t *testing.T) {
	path := filepath.Join(testDir(t), "net.sock")
	res := mustCreate(t, configJSON(t, path, map[string]any{"allowNet": []string{"192.168.127.254"}}))
	id := int64(res.ID)
	if _, err := subscribeEvents(id, 7); err != nil {
		t.Fatal(err)
	}
	port := hostEchoServer(t)
	g := startGuestStack(t, path)
	conn := g.connectHostLoopback(t, port)
	if _, err := conn.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	_ = conn.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := conn.Read(buf); err != nil {
		t.Fatalf("echo before the change: %v", err)
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	go repeatUntil(&wg, stop, func() bool {
		f, err := exposeForward(id, []byte(`{"hostPort":0,"guestPort":80}`))
		if err != nil {
			t.Errorf("expose: %v", err)
			return false
		}
		sel, _ := json.Marshal(map[string]any{"hostPort": f.HostPort})
		if r, err := unexposeForward(id, sel); err != nil || r.Removed != 1 {
			t.Errorf("unexpose: %+v %v", r, err)
			return false
		}
		return true
	})
	go repeatUntil(&wg, stop, func() bool {
		_ = drainEventsEnvelope(id, 0)
		return true
	})

	result, err := setAllowNet(id, []byte(`["192.0.2.0/24"]`))
	if err != nil || result.Cut != 1 {
		t.Fatalf("setAllowNet = %+v, %v; want one connection cut", result, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := conn.Read(buf); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the cut connection still reads: %v", err)
	}
	close(stop)
	wg.Wait()

	if _, err := setAllowNet(id, []byte(`["not a name"]`)); errs.As(err).Code != errs.InvalidConfig {
		t.Fatalf("an invalid list: %v", err)
	}
	if _, err := setAllowNet(id+1000, []byte(`[]`)); errs.As(err).Code != errs.Destroyed {
		t.Fatalf("an unknown instance: %v", err)
	}
	g.refusedHostLoopback(t, port, "a new connection the new list refuses was made")
}

// repeatUntil calls step until stop is closed or step returns false, then marks wg done.
func repeatUntil(wg *sync.WaitGroup, stop <-chan struct{}, step func() bool) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if !step() {
			return
		}
	}
}
