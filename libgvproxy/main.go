// Command libgvproxy is built with -buildmode=c-shared into libgvproxy.so / .dylib: the
// gvisor-tap-vsock virtual network, run inside the host process and driven through the
// C ABI of docs/ABI.md. The exports live in exports.go (lifecycle, stats, version) and
// logexports.go (logs); the logic behind them is plain Go in api.go and internal/.
package main

// main is required by -buildmode=c-shared and never runs.
func main() {}
