package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// EntryError is why one allowNet entry was refused. It names the entry by index so the
// config layer can report the field (`allowNet[2]`) and the caller can find the typo.
type EntryError struct {
	Index  int
	Entry  string
	Reason string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("allowNet[%d]: %q: %s", e.Index, e.Entry, e.Reason)
}

// Field is the config path of the entry at fault, e.g. "allowNet[2]".
func (e *EntryError) Field() string { return fmt.Sprintf("allowNet[%d]", e.Index) }

// ruleKind tells what an entry matches: a name, every name under a domain, or addresses.
type ruleKind int

const (
	kindName     ruleKind = iota // example.com
	kindWildcard                 // *.example.com: any name strictly below example.com
	kindPrefix                   // 10.0.0.0/8, or a single address as a /32 or /128
)

// rule is one parsed allowNet entry. port 0 means any port.
type rule struct {
	index  int
	kind   ruleKind
	name   string       // kindName: the name; kindWildcard: the domain below "*."
	prefix netip.Prefix // kindPrefix
	port   uint16
}

// String renders the rule in canonical allowNet syntax; parsing it yields the same rule.
func (r rule) String() string {
	var host string
	switch r.kind {
	case kindName:
		host = r.name
	case kindWildcard:
		host = "*." + r.name
	case kindPrefix:
		if r.prefix.IsSingleIP() {
			host = r.prefix.Addr().String()
		} else {
			host = r.prefix.String()
		}
		if r.prefix.Addr().Is6() && r.port != 0 {
			host = "[" + host + "]"
		}
	}
	if r.port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(int(r.port))
}

// allowsPort reports whether the rule covers destination port p.
func (r rule) allowsPort(p uint16) bool { return r.port == 0 || r.port == p }

// maxNameLen is the longest DNS name in presentation form without the trailing dot.
const maxNameLen = 253

// parseEntry turns one allowNet string into a rule, or says precisely why it cannot.
func parseEntry(index int, entry string) (rule, error) {
	fail := func(format string, args ...any) (rule, error) {
		return rule{}, &EntryError{Index: index, Entry: entry, Reason: fmt.Sprintf(format, args...)}
	}
	if entry == "" {
		return fail("empty entry")
	}
	if strings.Contains(entry, "://") {
		return fail("a URL is not an entry; write the host only, e.g. \"example.com:443\"")
	}
	host, portText, hasPort, err := splitHostPort(entry)
	if err != nil {
		return fail("%s", err)
	}
	r := rule{index: index}
	if hasPort {
		p, err := parsePort(portText)
		if err != nil {
			return fail("%s", err)
		}
		r.port = p
	}
	bracketed := strings.HasPrefix(entry, "[")
	switch {
	case strings.Contains(host, "/"):
		pfx, err := netip.ParsePrefix(host)
		if err != nil || pfx.Addr().Zone() != "" {
			return fail("invalid CIDR")
		}
		if bracketed && !pfx.Addr().Is6() {
			return fail("brackets are only for IPv6")
		}
		if pfx.Addr().Is4In6() {
			return fail("write IPv4-mapped CIDRs as plain IPv4 CIDRs")
		}
		if masked := pfx.Masked(); masked != pfx {
			return fail("host bits set in CIDR; did you mean %s?", masked)
		}
		r.kind, r.prefix = kindPrefix, pfx
	case looksLikeAddress(host):
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return fail("invalid IP address")
		}
		if addr.Zone() != "" {
			return fail("IPv6 zones are not allowed")
		}
		if bracketed && !addr.Is6() {
			return fail("brackets are only for IPv6")
		}
		addr = addr.Unmap()
		r.kind, r.prefix = kindPrefix, netip.PrefixFrom(addr, addr.BitLen())
	case bracketed:
		return fail("brackets are only for IPv6 addresses")
	case strings.HasPrefix(host, "*."):
		name, err := normaliseName(host[2:])
		if err != nil {
			return fail("%s", err)
		}
		r.kind, r.name = kindWildcard, name
	case host == "*":
		return fail("a bare * is not an entry; leave allowNet empty to disable filtering")
	default:
		name, err := normaliseName(host)
		if err != nil {
			return fail("%s", err)
		}
		r.kind, r.name = kindName, name
	}
	return r, nil
}

// splitHostPort separates an optional ":port" suffix. An IPv6 address with a port must
// be in brackets; one without a port may be written bare ("::1", "2001:db8::/32").
func splitHostPort(entry string) (host, port string, hasPort bool, err error) {
	if strings.HasPrefix(entry, "[") {
		end := strings.IndexByte(entry, ']')
		if end < 0 {
			return "", "", false, errors.New("missing ] after IPv6 address")
		}
		host, rest := entry[1:end], entry[end+1:]
		if host == "" {
			return "", "", false, errors.New("empty brackets")
		}
		switch {
		case rest == "":
			return host, "", false, nil
		case strings.HasPrefix(rest, ":"):
			return host, rest[1:], true, nil
		default:
			return "", "", false, fmt.Errorf("unexpected %q after ]", rest)
		}
	}
	switch strings.Count(entry, ":") {
	case 0:
		return entry, "", false, nil
	case 1:
		host, port, _ := strings.Cut(entry, ":")
		if host == "" {
			return "", "", false, errors.New("missing host before port")
		}
		return host, port, true, nil
	default:
		if _, err := netip.ParsePrefix(entry); err == nil {
			return entry, "", false, nil
		}
		if _, err := netip.ParseAddr(entry); err == nil {
			return entry, "", false, nil
		}
		if strings.Contains(entry, "/") {
			return "", "", false, errors.New("invalid CIDR")
		}
		return "", "", false, errors.New("invalid IPv6 address (with a port, write it in brackets: \"[::1]:53\")")
	}
}

func parsePort(text string) (uint16, error) {
	n, err := strconv.ParseUint(text, 10, 16)
	if err != nil || n == 0 || text[0] == '+' || (len(text) > 1 && text[0] == '0') {
		return 0, fmt.Errorf("invalid port %q (want 1-65535)", text)
	}
	return uint16(n), nil
}

// looksLikeAddress tells an IP literal (valid or not) from a name: IPv6 has colons, and
// a name whose labels are all digits is not a valid host name but a mistyped IPv4.
func looksLikeAddress(host string) bool {
	if strings.Contains(host, ":") {
		return true
	}
	if host == "" {
		return false
	}
	for _, c := range host {
		if c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// normaliseName lowercases a host name, drops one trailing dot and checks it is a valid
// DNS host name (letters, digits, '-' and '_' in labels of 1-63 bytes).
func normaliseName(name string) (string, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" {
		return "", errors.New("empty host name")
	}
	if len(name) > maxNameLen {
		return "", fmt.Errorf("host name longer than %d characters", maxNameLen)
	}
	for _, label := range strings.Split(name, ".") {
		if err := checkLabel(label); err != nil {
			return "", err
		}
	}
	if looksLikeAddress(name) {
		return "", errors.New("invalid IP address")
	}
	return name, nil
}

func checkLabel(label string) error {
	switch {
	case label == "":
		return errors.New("empty label in host name")
	case label == "*" || strings.Contains(label, "*"):
		return errors.New("wildcard only allowed as the leading label \"*.\"")
	case len(label) > 63:
		return fmt.Errorf("label %q longer than 63 characters", label)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Errorf("label %q starts or ends with '-'", label)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if c >= 0x80 {
			return errors.New("non-ASCII host name; write it in punycode (xn--...)")
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("invalid character %q in host name", c)
		}
	}
	return nil
}

// ParseHostPattern checks a host name or a "*." wildcard with the rules of allowNet's
// name entries and returns it normalised (lowercase, no trailing dot). IP addresses,
// ports and other entry forms are refused: callers (secrets' hosts) want names only.
func ParseHostPattern(pattern string) (string, error) {
	if strings.HasPrefix(pattern, "*.") {
		name, err := normaliseName(pattern[2:])
		if err != nil {
			return "", err
		}
		return "*." + name, nil
	}
	return normaliseName(pattern)
}
