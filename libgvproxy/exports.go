package main

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import "unsafe"

// The lifecycle exports of docs/ABI.md. Each one only converts between C and Go; the
// panic recovery and the envelope live in guarded (envelope.go), or for exports
// without an envelope in recovery.go. Strings returned are
// malloc'ed copies the caller frees with gvproxy_free.

//export gvproxy_abi_version
func gvproxy_abi_version() (v C.int32_t) {
	defer recoverInt32("gvproxy_abi_version", &v, ABIVersion)
	return ABIVersion
}

//export gvproxy_version
func gvproxy_version() *C.char {
	return C.CString(guarded("gvproxy_version", func() (any, error) {
		return buildVersions(), nil
	}))
}

//export gvproxy_create
func gvproxy_create(configJSON *C.char) *C.char {
	return C.CString(guarded("gvproxy_create", func() (any, error) {
		if configJSON == nil {
			return createInstance(nil)
		}
		// GoString copies: Go keeps nothing that points into the caller's memory.
		return createInstance([]byte(C.GoString(configJSON)))
	}))
}

//export gvproxy_destroy
func gvproxy_destroy(id C.int64_t) *C.char {
	return C.CString(guarded("gvproxy_destroy", func() (any, error) {
		return destroyReportingEvents(int64(id))
	}))
}

//export gvproxy_stats
func gvproxy_stats(id C.int64_t) *C.char {
	return C.CString(guarded("gvproxy_stats", func() (any, error) {
		return instanceStats(int64(id))
	}))
}

//export gvproxy_free
func gvproxy_free(p *C.char) {
	defer recoverExport("gvproxy_free")
	C.free(unsafe.Pointer(p))
}
