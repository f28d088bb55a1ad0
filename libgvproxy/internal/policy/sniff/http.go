package sniff

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// InspectHTTPHost extracts the host an HTTP/1.x request is for, from the first bytes a
// client sent: the authority of an absolute-form or CONNECT request target, else the
// Host header. complete is false with a nil error while the header block is still
// arriving. The host is lowercased, without port or trailing dot (an IPv6 literal
// without brackets). Anything ambiguous is an error, so the server cannot read a
// different host than this parser: several Host headers, a Host header disagreeing with
// an absolute URI, userinfo in the URI, folded header lines, whitespace before a colon.
// HTTP/2 with prior knowledge is refused (its host is HPACK-coded). It never panics.
func InspectHTTPHost(first []byte) (host string, complete bool, err error) {
	if err := checkMethodPrefix(first); err != nil {
		return "", false, err
	}
	lines, complete, err := headerLines(first)
	if err != nil || !complete {
		return "", false, err
	}
	host, err = requestHost(lines)
	if err != nil {
		return "", false, err
	}
	return host, true, nil
}

// checkMethodPrefix refuses a stream whose first bytes cannot start a request line,
// before the whole line has arrived.
func checkMethodPrefix(first []byte) error {
	for i, c := range first {
		if c == ' ' {
			if i == 0 {
				return errors.New("not an HTTP request (empty method)")
			}
			return nil
		}
		if !isTokenChar(c) {
			return fmt.Errorf("not an HTTP request (byte 0x%02x in method)", c)
		}
	}
	return nil
}

// headerLines splits the header block into lines (CRLF or bare LF) up to the empty
// line that ends it.
func headerLines(first []byte) (lines [][]byte, complete bool, err error) {
	rest := first
	for {
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			if len(first) >= MaxInspectBytes {
				return nil, false, fmt.Errorf("no complete request header within %d bytes", MaxInspectBytes)
			}
			return nil, false, nil
		}
		line := bytes.TrimSuffix(rest[:end], []byte("\r"))
		rest = rest[end+1:]
		if len(line) == 0 {
			if len(lines) == 0 {
				return nil, false, errors.New("empty request line")
			}
			return lines, true, nil
		}
		lines = append(lines, line)
	}
}

// requestHost applies RFC 9112 section 3.2: an absolute-form or authority-form target
// names the host; otherwise the single Host header does.
func requestHost(lines [][]byte) (string, error) {
	method, target, err := parseRequestLine(string(lines[0]))
	if err != nil {
		return "", err
	}
	targetHost, err := targetAuthority(method, target)
	if err != nil {
		return "", err
	}
	headerHost, err := hostHeader(lines[1:])
	if err != nil {
		return "", err
	}
	switch {
	case targetHost != "" && headerHost != "":
		a, errA := splitAuthority(targetHost)
		b, errB := splitAuthority(headerHost)
		if errA != nil {
			return "", errA
		}
		if errB != nil || a != b {
			return "", fmt.Errorf("Host header %q disagrees with request target %q", headerHost, target)
		}
		return a, nil
	case targetHost != "":
		return splitAuthority(targetHost)
	case headerHost != "":
		return splitAuthority(headerHost)
	default:
		return "", errors.New("request names no host (no Host header)")
	}
}

func parseRequestLine(line string) (method, target string, err error) {
	parts := strings.Split(line, " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", fmt.Errorf("malformed request line %q", truncate(line))
	}
	switch version := parts[2]; {
	case parts[0] == "PRI" && version == "HTTP/2.0":
		return "", "", errors.New("HTTP/2 with prior knowledge cannot be inspected")
	case version != "HTTP/1.1" && version != "HTTP/1.0":
		return "", "", fmt.Errorf("unsupported HTTP version %q", truncate(version))
	}
	return parts[0], parts[1], nil
}

// targetAuthority returns the authority named by the request target, "" for
// origin-form ("/path") and asterisk-form ("*").
func targetAuthority(method, target string) (string, error) {
	if method == "CONNECT" {
		return target, nil
	}
	if strings.HasPrefix(target, "/") || target == "*" {
		return "", nil
	}
	scheme, rest, ok := strings.Cut(target, "://")
	if !ok || !(strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")) {
		return "", fmt.Errorf("unsupported request target %q", truncate(target))
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if strings.Contains(authority, "@") {
		return "", errors.New("userinfo in request target")
	}
	if authority == "" {
		return "", errors.New("empty host in request target")
	}
	return authority, nil
}

// hostHeader returns the value of the one Host header, "" if there is none.
func hostHeader(lines [][]byte) (string, error) {
	var host string
	found := false
	for _, line := range lines {
		if line[0] == ' ' || line[0] == '\t' {
			return "", errors.New("folded header line")
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return "", fmt.Errorf("malformed header line %q", truncate(string(line)))
		}
		name := line[:colon]
		for _, c := range name {
			if !isTokenChar(c) {
				return "", fmt.Errorf("invalid header name %q", truncate(string(name)))
			}
		}
		if !strings.EqualFold(string(name), "host") {
			continue
		}
		if found {
			return "", errors.New("several Host headers")
		}
		found = true
		host = strings.Trim(string(line[colon+1:]), " \t")
		if host == "" {
			return "", errors.New("empty Host header")
		}
	}
	return host, nil
}

// splitAuthority drops the port of host[:port] or [v6]:port and normalises the host.
func splitAuthority(authority string) (string, error) {
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", fmt.Errorf("malformed host %q", truncate(authority))
		}
		host, port = authority[1:end], authority[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", fmt.Errorf("malformed host %q", truncate(authority))
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", fmt.Errorf("malformed IPv6 host %q", truncate(authority))
		}
		host = addr.String()
	} else if i := strings.LastIndexByte(authority, ':'); i >= 0 {
		host, port = authority[:i], authority[i:]
	}
	if port != "" {
		digits := port[1:]
		if digits != "" && strings.Trim(digits, "0123456789") != "" {
			return "", fmt.Errorf("invalid port in host %q", truncate(authority))
		}
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return "", fmt.Errorf("empty host in %q", truncate(authority))
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c >= 0x7f {
			return "", fmt.Errorf("invalid byte 0x%02x in host", c)
		}
	}
	return host, nil
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110 section 5.6.2).
func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// truncate keeps hostile input from flooding an error message (and the log).
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
