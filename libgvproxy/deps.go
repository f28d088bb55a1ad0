package main

// Pins the modules libgvproxy is built from, so `go mod tidy` keeps them before the code
// that uses them exists.
import (
	_ "github.com/containers/gvisor-tap-vsock/pkg/virtualnetwork"
	_ "github.com/sirupsen/logrus"
	_ "gvisor.dev/gvisor/pkg/tcpip/stack"
)

func main() {}
