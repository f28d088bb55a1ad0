//go:build gvproxytest

package main

/*
#include <stdint.h>
*/
import "C"

import (
	"sync"

	"bun-gvproxy/libgvproxy/internal/logqueue"
)

// Test-only exports, compiled only into the test build of the library (build tag
// gvproxytest, `make test-lib` -> build/test/libgvproxy.so); the release library has none.

// maxLogFloodGoroutines bounds gvproxy_test_log_flood so a wrong argument from a test
// cannot exhaust the process.
const maxLogFloodGoroutines = 1024

// logFloodRunning counts the flood goroutines still logging.
var logFloodRunning sync.WaitGroup

// gvproxy_test_log_flood is a test hook: it starts goroutines goroutines, each logging
// perGoroutine info records "flood g=<index> seq=<n>" (n counting from 0), and returns
// 0 at once (-1 for arguments out of range). Records below the log level are filtered as
// usual, so the test sets the level to info or lower first.
//
//export gvproxy_test_log_flood
func gvproxy_test_log_flood(goroutines, perGoroutine C.int32_t) (rc C.int32_t) {
	defer recoverInt32("gvproxy_test_log_flood", &rc, -1)
	if goroutines <= 0 || goroutines > maxLogFloodGoroutines || perGoroutine < 0 {
		return -1
	}
	for g := range int(goroutines) {
		logFloodRunning.Add(1)
		go func() {
			defer logFloodRunning.Done()
			logFlood(g, int(perGoroutine))
		}()
	}
	return 0
}

func logFlood(goroutine, records int) {
	for seq := range records {
		logqueue.Log(logqueue.Info, 0, "flood", "g", goroutine, "seq", seq)
	}
}

// gvproxy_test_log_flood_wait blocks until every flood goroutine has finished; returns 0.
//
//export gvproxy_test_log_flood_wait
func gvproxy_test_log_flood_wait() (rc C.int32_t) {
	defer recoverInt32("gvproxy_test_log_flood_wait", &rc, -1)
	logFloodRunning.Wait()
	return 0
}
