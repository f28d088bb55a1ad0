package main

/*
#include <stdint.h>
#include <stdlib.h>

typedef void (*gvproxy_log_batch_fn)(const uint8_t* records, int32_t byte_len, int32_t count);

// Go cannot call a C function pointer; this trampoline does, on the calling thread, which
// is the thread that called gvproxy_drain_logs (a Bun JSCallback must run there).
static inline void gvproxy_call_log_batch(gvproxy_log_batch_fn fn, const uint8_t* records,
                                          int32_t byte_len, int32_t count) {
	fn(records, byte_len, count);
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"bun-gvproxy/libgvproxy/internal/logqueue"
)

// The log exports of docs/ABI.md: gvproxy_set_log_level, gvproxy_drain_logs,
// gvproxy_log_stats, and the flood hooks the TypeScript tests use.

func init() {
	// Route logrus, the standard log package and gVisor into the queue before any other
	// code of the library runs, so nothing reaches the host process's stderr.
	logqueue.Install()
}

//export gvproxy_set_log_level
func gvproxy_set_log_level(level C.int32_t) {
	defer recoverExport("gvproxy_set_log_level")
	if err := logqueue.SetLevel(int(level)); err != nil {
		logqueue.Log(logqueue.Warn, 0, "gvproxy_set_log_level: level unchanged", "error", err)
	}
}

//export gvproxy_drain_logs
func gvproxy_drain_logs(fn C.gvproxy_log_batch_fn, maxRecords C.int32_t) (delivered C.int32_t) {
	defer recoverInt32("gvproxy_drain_logs", &delivered, -1)
	if fn == nil {
		logqueue.Log(logqueue.Error, 0, "gvproxy_drain_logs: callback is NULL")
		return -1
	}
	buf, err := logBatchBuffer()
	if err != nil {
		logqueue.Log(logqueue.Error, 0, "gvproxy_drain_logs: no batch buffer", "error", err)
		return -1
	}
	n, err := logqueue.Default.Drain(buf, int(maxRecords), func(batch []byte, count int) {
		C.gvproxy_call_log_batch(fn, (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(batch))),
			C.int32_t(len(batch)), C.int32_t(count))
	})
	if err != nil {
		logqueue.Log(logqueue.Error, 0, "gvproxy_drain_logs: drain failed", "error", err)
		return -1
	}
	return C.int32_t(n)
}

//export gvproxy_log_stats
func gvproxy_log_stats() *C.char {
	return C.CString(guarded("gvproxy_log_stats", func() (any, error) {
		return logqueue.Default.Stats(), nil
	}))
}

// The batch buffer is C memory so the callback may read it without Go pointer rules. It
// is allocated once and never freed: it is reused by every drain, and drains are
// exclusive (logqueue.Queue.Drain), so it is never written while a callback reads it.
var (
	logBatchMu  sync.Mutex
	logBatchBuf []byte
)

func logBatchBuffer() ([]byte, error) {
	logBatchMu.Lock()
	defer logBatchMu.Unlock()
	if logBatchBuf == nil {
		p := C.malloc(C.size_t(logqueue.BatchBufferSize))
		if p == nil {
			return nil, fmt.Errorf("malloc of %d bytes for log batches failed", logqueue.BatchBufferSize)
		}
		logBatchBuf = unsafe.Slice((*byte)(p), logqueue.BatchBufferSize)
	}
	return logBatchBuf, nil
}

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
