// Package intercept serves the guest's TLS connections to secrets' hosts: it
// terminates TLS with a leaf from the network's CA (tlsca), serves HTTP/1.1 or HTTP/2
// as the guest's ALPN chose, checks every request (its Host must be the SNI; a
// placeholder must belong to that host), substitutes the placeholders, and sends the
// request on to the real host over TLS verified against the system roots plus the
// configured extra roots. Responses come back with every secret's value turned into its
// placeholder (headers, and bodies in identity, gzip, deflate, br or zstd encoding).
//
// The network (internal/network) decides which connections come here: after the egress
// policy allowed the connection and its ClientHello named a secret's host.
package intercept
