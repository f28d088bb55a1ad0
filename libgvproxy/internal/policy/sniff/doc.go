// Package sniff reads what a connection's first bytes say about where it is going: the
// server name of a TLS ClientHello (InspectTLSClientHello), the host of an HTTP/1.x
// request (InspectHTTPHost), and the framing of every later request on a keep-alive
// connection (GuardRequests). Pure parsers: they never panic, never buffer more than
// MaxInspectBytes, and refuse anything ambiguous so a server cannot read another name
// than they did. They judge nothing themselves: package policy decides whether the name
// is allowed, and the network reports refusals to internal/audit.
package sniff
