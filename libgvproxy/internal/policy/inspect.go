package policy

import (
	"fmt"
	"io"
)

// CheckFirstBytes rules on the bytes the guest has sent so far on a connection this
// decision marked for inspection. It returns done=false, nil while more bytes are
// needed; done=true, nil when the connection may go ahead; or a *DeniedError (counted
// and reported to OnDeny) when the bytes are not TLS/HTTP or name a host that is not
// allowed on this port. A decision without inspection is done at once.
func (d Decision) CheckFirstBytes(first []byte) (done bool, err error) {
	var (
		name     string
		complete bool
		perr     error
	)
	switch d.Inspect {
	case InspectTLS:
		name, complete, perr = InspectTLSClientHello(first)
	case InspectHTTP:
		name, complete, perr = InspectHTTPHost(first)
	default:
		return true, nil
	}
	switch {
	case perr != nil:
		return false, d.deny(name, fmt.Sprintf("%s inspection: %v", d.Inspect, perr))
	case !complete:
		return false, nil
	case name == "":
		return false, d.deny("", fmt.Sprintf("%s inspection: no server name; the address is allowed only for %v", d.Inspect, d.Names))
	case !d.AcceptsName(name):
		return false, d.deny(name, fmt.Sprintf("%s inspection: %s is not allowed on port %d", d.Inspect, name, d.dst.Port()))
	}
	return true, nil
}

func (d Decision) deny(name, reason string) error {
	denial := Denial{Proto: d.proto, Dst: d.dst, Name: name, Reason: reason}
	if d.policy != nil {
		d.policy.recordDenial(denial)
	}
	return &DeniedError{Denial: denial}
}

// ReadPrefix reads the guest's first bytes on a connection this decision marked for
// inspection, until CheckFirstBytes rules. It returns the bytes read, which the caller
// must send first on the outbound connection it dials only after a nil error. A denial
// is a *DeniedError (see IsDenied): reset the guest connection. Other errors are the
// reader's (EOF, or a deadline the caller set on the guest connection so a silent
// guest cannot hold it open). At most MaxInspectBytes are read.
func (d Decision) ReadPrefix(guest io.Reader) ([]byte, error) {
	if d.Inspect == InspectNone {
		return nil, nil
	}
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) >= MaxInspectBytes {
			// The inspectors refuse at this size; this guards a reader that returns 0, nil.
			return buf, d.deny("", fmt.Sprintf("%s inspection: nothing conclusive in %d bytes", d.Inspect, len(buf)))
		}
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), MaxInspectBytes))
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
