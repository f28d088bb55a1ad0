package policy

import (
	"fmt"
	"io"

	"bun-gvproxy/libgvproxy/internal/audit"
	"bun-gvproxy/libgvproxy/internal/policy/sniff"
)

// CheckFirstBytes rules on the bytes the guest has sent so far on a connection this
// decision marked for inspection. It returns done=false, nil while more bytes are
// needed; done=true, nil when the connection may go ahead; or a *DeniedError (for the
// caller to report) when the bytes are not TLS/HTTP or name a host that is not allowed
// on this port. A decision without inspection is done at once.
func (d Decision) CheckFirstBytes(first []byte) (done bool, err error) {
	var (
		name     string
		complete bool
		perr     error
		mismatch audit.Reason
	)
	switch d.Inspect {
	case InspectTLS:
		name, complete, perr = sniff.InspectTLSClientHello(first)
		mismatch = audit.SNIMismatch
	case InspectHTTP:
		name, complete, perr = sniff.InspectHTTPHost(first)
		mismatch = audit.HostMismatch
	default:
		return true, nil
	}
	switch {
	case perr != nil:
		return false, d.deny(audit.NotInspectable, name, fmt.Sprintf("%s inspection: %v", d.Inspect, perr))
	case !complete:
		return false, nil
	case name == "":
		return false, d.deny(mismatch, "", fmt.Sprintf("%s inspection: no server name; the address is allowed only for %v", d.Inspect, d.Names))
	case !d.AcceptsName(name):
		return false, d.deny(mismatch, name, fmt.Sprintf("%s inspection: %s is not allowed on port %d", d.Inspect, name, d.dst.Port()))
	}
	return true, nil
}

// Refuse is the denial of a connection whose bytes cannot be followed (sniff.Judge).
func (d Decision) Refuse(detail string) error { return d.deny(audit.NotInspectable, "", detail) }

// GuardHTTPRequests returns a reader of the guest's side of a connection this decision
// marked InspectHTTP, to copy to the host side in place of the guest connection itself
// (give it the bytes ReadPrefix returned first, e.g. io.MultiReader): every request's
// host is checked (sniff.GuardRequests), and a violation ends the stream with a
// *DeniedError: reset both connections. For other decisions it returns guest unchanged.
func (d Decision) GuardHTTPRequests(guest io.Reader) io.Reader {
	if d.Inspect != InspectHTTP {
		return guest
	}
	return sniff.GuardRequests(guest, d)
}

func (d Decision) deny(code audit.Reason, name, detail string) error {
	return &DeniedError{Denial: audit.Denial{Reason: code, Proto: d.proto, Destination: audit.AddrPort(d.dst), Name: name, Detail: detail}}
}

// ReadPrefix reads the guest's first bytes on a connection this decision marked for
// inspection, until CheckFirstBytes rules. It returns the bytes read, which the caller
// must send first on the outbound connection it dials only after a nil error. A denial
// is a *DeniedError (see IsDenied): reset the guest connection. Other errors are the
// reader's (EOF, or a deadline the caller set on the guest connection so a silent
// guest cannot hold it open). At most sniff.MaxInspectBytes are read.
func (d Decision) ReadPrefix(guest io.Reader) ([]byte, error) {
	if d.Inspect == InspectNone {
		return nil, nil
	}
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) >= sniff.MaxInspectBytes {
			// The inspectors refuse at this size; this guards a reader that returns 0, nil.
			return buf, d.deny(audit.NotInspectable, "", fmt.Sprintf("%s inspection: nothing conclusive in %d bytes", d.Inspect, len(buf)))
		}
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), sniff.MaxInspectBytes))
			copy(grown, buf)
			buf = grown
		}
		n, err := guest.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			done, denied := d.CheckFirstBytes(buf)
			if denied != nil || done {
				return buf, denied
			}
		}
		if err != nil {
			return buf, fmt.Errorf("reading first bytes for %s inspection of %s: %w", d.Inspect, d.dst, err)
		}
	}
}

// ServerName is the name the first bytes of an inspected connection present (TLS SNI or
// HTTP host), or "" for a decision without inspection.
func (d Decision) ServerName(first []byte) string {
	var name string
	switch d.Inspect {
	case InspectTLS:
		name, _, _ = sniff.InspectTLSClientHello(first)
	case InspectHTTP:
		name, _, _ = sniff.InspectHTTPHost(first)
	}
	return name
}
