// Command peer is the host-side traffic peer of the benchmarks: byte sinks and sources,
// echo servers, request/response clients and a framed Unix-socket echo. It is a separate
// process so that the peer never shares a CPU budget or an event loop with the network
// stack under test, and the same binary drives ours, gvproxy and the ceilings alike.
//
// Every client subcommand prints one JSON object on stdout; every server prints
// {"ready":"<address>"} once listening and serves until killed or stdin closes.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

type command struct {
	run   func(args []string) error
	usage string
}

var commands = map[string]command{
	"sink":        {runSink, "sink -listen ADDR: read each connection to EOF, reply with the 8-byte count"},
	"source":      {runSource, "source -connect ADDR -streams N -seconds S: send until S elapses, report acked bytes"},
	"echo":        {runEcho, "echo -listen ADDR: echo every byte back"},
	"rr":          {runRR, "rr -connect ADDR -size B -count N: request/response over one kept connection"},
	"crr":         {runCRR, "crr -connect ADDR -size B -count N: connect+request+response+close, N times"},
	"framed-echo": {runFramedEcho, "framed-echo -listen PATH: echo 4-byte-length-framed messages on a Unix socket"},
	"framed-bulk": {runFramedBulk, "framed-bulk -connect PATH -frame B -seconds S: stream frames, count echoed bytes"},
	"framed-rr":   {runFramedRR, "framed-rr -connect PATH -frame B -count N: one frame out, one back, N times"},
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "peer %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: peer <subcommand> [flags]")
	for _, c := range commands {
		fmt.Fprintln(os.Stderr, "  "+c.usage)
	}
}

// newFlags returns a flag set that reports errors instead of exiting, so a bad
// invocation from the orchestrator surfaces as a wrapped error.
func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet(name, flag.ContinueOnError)
}

// sendTimeFlag adds -seconds, how long a bulk client sends, and returns its reader.
func sendTimeFlag(fs *flag.FlagSet) func() time.Duration {
	seconds := fs.Float64("seconds", 3, "how long to send")
	return func() time.Duration { return time.Duration(*seconds * float64(time.Second)) }
}
