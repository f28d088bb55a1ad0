package audit

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the events as a JSON array. It writes the same document
// encoding/json would for these types (field names, omitted empty fields), without
// reflection: the event stream's throughput goal (200,000/s to a JS listener) is mostly
// this encoding and the JS side's parse.
func AppendJSON(dst []byte, events []any) []byte {
	dst = append(dst, '[')
	for i, e := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch e := e.(type) {
		case *ConnectionEvent:
			dst = e.appendJSON(dst)
		case *GuestEvent:
			dst = e.appendJSON(dst)
		case *DNSEvent:
			dst = e.appendJSON(dst)
		default:
			dst = append(dst, "null"...)
		}
	}
	return append(dst, ']')
}

// appendHead opens an event's object with the two fields every event starts with.
func appendHead(b []byte, typ string, timeMs float64) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, typ)
	return appendFloatField(b, "timeMs", timeMs)
}

func (e *ConnectionEvent) appendJSON(b []byte) []byte {
	b = appendHead(b, e.Type, e.TimeMs)
	if e.ID != 0 {
		b = appendUintField(b, "id", e.ID)
	}
	b = appendStringField(b, "phase", e.Phase)
	b = appendStringField(b, "protocol", e.Protocol)
	b = appendStringField(b, "via", string(e.Via))
	b = appendEndpointField(b, "source", e.Source)
	b = appendEndpointField(b, "destination", e.Destination)
	b = appendOptionalString(b, "name", e.Name)
	b = appendOptionalString(b, "reason", string(e.Reason))
	b = appendOptionalString(b, "detail", e.Detail)
	if e.BytesFromGuest != nil {
		b = appendUintField(b, "bytesFromGuest", *e.BytesFromGuest)
	}
	if e.BytesToGuest != nil {
		b = appendUintField(b, "bytesToGuest", *e.BytesToGuest)
	}
	if e.DurationMs != nil {
		b = appendFloatField(b, "durationMs", *e.DurationMs)
	}
	return append(b, '}')
}

func (e *GuestEvent) appendJSON(b []byte) []byte {
	b = appendHead(b, e.Type, e.TimeMs)
	b = appendStringField(b, "phase", e.Phase)
	b = appendOptionalString(b, "peer", e.Peer)
	b = appendOptionalString(b, "reason", e.Reason)
	b = appendUintField(b, "connections", e.Connections)
	return append(b, '}')
}

func (e *DNSEvent) appendJSON(b []byte) []byte {
	b = appendHead(b, e.Type, e.TimeMs)
	b = appendStringField(b, "protocol", e.Protocol)
	b = appendStringField(b, "name", e.Name)
	b = appendStringField(b, "queryType", e.Query)
	b = appendStringField(b, "decision", e.Decision)
	b = appendOptionalString(b, "rcode", e.Rcode)
	b = appendKey(b, "answer")
	b = append(b, '[')
	for i, a := range e.Answer {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, a)
	}
	b = append(b, ']')
	b = appendOptionalString(b, "reason", string(e.Reason))
	b = appendOptionalString(b, "detail", e.Detail)
	return append(b, '}')
}

func appendEndpointField(b []byte, name string, e *Endpoint) []byte {
	if e == nil {
		return b
	}
	b = appendKey(b, name)
	if e.Path != "" {
		b = append(b, `{"path":`...)
		b = appendString(b, e.Path)
		return append(b, '}')
	}
	b = append(b, `{"ip":"`...)
	b = e.Addr.Addr().AppendTo(b) // digits, dots and colons: nothing to escape
	b = append(b, `","port":`...)
	b = strconv.AppendUint(b, uint64(e.Addr.Port()), 10)
	return append(b, '}')
}

// appendKey appends `,"name":`: every field but an event's first follows another.
// Names are the package's own constants, so they need no escaping.
func appendKey(b []byte, name string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	return append(b, `":`...)
}

func appendStringField(b []byte, name, value string) []byte {
	return appendString(appendKey(b, name), value)
}

func appendUintField(b []byte, name string, v uint64) []byte {
	return strconv.AppendUint(appendKey(b, name), v, 10)
}

func appendOptionalString(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendStringField(b, name, value)
}

func appendFloatField(b []byte, name string, v float64) []byte {
	return strconv.AppendFloat(appendKey(b, name), v, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD (names and details may come from a guest).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
