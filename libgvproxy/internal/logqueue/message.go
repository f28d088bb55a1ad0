package logqueue

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMessageBytes bounds one record's message, so that a single huge log line (a packet
// dump, a stack) cannot take the queue's memory or overflow a batch.
const MaxMessageBytes = 16 << 10

// truncationMarker ends a message that was cut; %d is the number of bytes removed.
const truncationMarker = "… [truncated %d bytes]"

// Truncate returns msg unchanged if it fits MaxMessageBytes, otherwise its head, cut at a
// UTF-8 boundary, followed by a marker saying how many bytes were dropped.
func Truncate(msg string) string {
	if len(msg) <= MaxMessageBytes {
		return msg
	}
	// The marker's length depends on the count it prints; reserving room for the
	// largest count (len(msg)) keeps the result within the bound.
	room := MaxMessageBytes - len(fmt.Sprintf(truncationMarker, len(msg)))
	cut := room
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + fmt.Sprintf(truncationMarker, len(msg)-cut)
}

// appendFields renders key/value pairs as " key=value" after msg. A trailing key without
// a value is rendered with the value "(MISSING)", as log/slog and logr do, so that a
// miscounted call still shows everything it was given.
func appendFields(msg string, kv []any) string {
	if len(kv) == 0 {
		return msg
	}
	var b strings.Builder
	b.Grow(len(msg) + 16*len(kv))
	b.WriteString(msg)
	for i := 0; i < len(kv); i += 2 {
		b.WriteByte(' ')
		b.WriteString(fieldText(kv[i]))
		b.WriteByte('=')
		if i+1 < len(kv) {
			b.WriteString(quoteIfNeeded(fieldText(kv[i+1])))
		} else {
			b.WriteString("(MISSING)")
		}
	}
	return b.String()
}

// fieldText renders a key or value without going through fmt for the common types.
func fieldText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case bool:
		return strconv.FormatBool(x)
	default:
		// fmt calls Error/String and survives their panics (a nil pointer receiver).
		return fmt.Sprint(v)
	}
}

// quoteIfNeeded quotes a value that would otherwise be ambiguous in "key=value" text:
// empty, or containing spaces, quotes, '=' or control characters.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r <= ' ' || r == '"' || r == '=' || r == 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}
