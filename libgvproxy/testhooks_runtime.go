//go:build gvproxytest

package main

/*
#include <stdint.h>
*/
import "C"

import "runtime"

// gvproxy_test_goroutines is a test hook: the number of goroutines the library's Go
// runtime has now, so a benchmark or test can check that closing networks returned it
// to its baseline.
//
//export gvproxy_test_goroutines
func gvproxy_test_goroutines() (n C.int32_t) {
	defer recoverInt32("gvproxy_test_goroutines", &n, -1)
	return C.int32_t(runtime.NumGoroutine())
}
