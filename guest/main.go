package main

import _ "gvisor.dev/gvisor/pkg/tcpip/stack"

func main() {}
