package main

import "testing"

// recoverExport must stop the panic where it is deferred; one that escaped would crash
// this test.
func TestRecoverExportStopsAPanicAtTheExport(t *testing.T) {
	func() {
		defer recoverExport("gvproxy_test")
		panic("boom")
	}()
}
