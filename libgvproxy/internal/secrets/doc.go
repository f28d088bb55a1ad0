// Package secrets holds the secrets a network injects into intercepted HTTPS requests:
// the guest only ever holds a placeholder, which Set.Substitute replaces by the real
// value in the requests to that secret's hosts, and the Redactor turns the value back
// into the placeholder wherever a response would carry it to the guest (headers, and
// bodies as a stream, also when the value is split across reads).
//
// The package never writes a value anywhere itself; what it returns for people (errors,
// misuse details) names placeholders and hosts only.
package secrets
