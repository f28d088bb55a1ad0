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
