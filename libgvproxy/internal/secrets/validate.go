package secrets

import (
	"fmt"
	"strings"

	"bun-gvproxy/libgvproxy/internal/errs"
	"bun-gvproxy/libgvproxy/internal/policy"
)

// Validate checks a list of secrets as given (field is its path in the config, e.g.
// "secrets") and returns it with the hosts normalised. Every error is INVALID_CONFIG
// naming the element's field, and never quotes a value.
//
// A placeholder must be non-empty visible ASCII (it travels in headers and URLs), unique,
// and no substring of another: otherwise substituting one would rewrite part of the
// other. A value must be non-empty and free of CR, LF and NUL, which would split or
// end a header it is put into. Hosts are one or more names or "*." wildcards.
func Validate(field string, list []Secret) ([]Secret, error) {
	out := make([]Secret, 0, len(list))
	for i, s := range list {
		at := fmt.Sprintf("%s[%d]", field, i)
		if err := checkPlaceholder(at+".placeholder", s.Placeholder); err != nil {
			return nil, err
		}
		if err := checkValue(at+".value", s.Value); err != nil {
			return nil, err
		}
		hosts, err := checkHosts(at+".hosts", s.Hosts)
		if err != nil {
			return nil, err
		}
		for j, prev := range out {
			if err := checkDistinct(at+".placeholder", s.Placeholder, j, prev.Placeholder, field); err != nil {
				return nil, err
			}
		}
		out = append(out, Secret{Placeholder: s.Placeholder, Value: s.Value, Hosts: hosts})
	}
	return out, nil
}

func invalid(field, format string, args ...any) error {
	return errs.Field(errs.InvalidConfig, field, format, args...)
}

func checkPlaceholder(field, p string) error {
	if p == "" {
		return invalid(field, "must not be empty")
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] >= 0x7f {
			return invalid(field, "must be visible ASCII without spaces (byte %d is 0x%02x)", i, p[i])
		}
	}
	return nil
}

func checkValue(field, v string) error {
	switch {
	case v == "":
		return invalid(field, "must not be empty")
	case strings.ContainsAny(v, "\r\n\x00"):
		return invalid(field, "must not contain CR, LF or NUL (it is put into request headers)")
	}
	return nil
}

func checkHosts(field string, hosts []string) ([]string, error) {
	if len(hosts) == 0 {
		return nil, invalid(field, "at least one host name is required")
	}
	out := make([]string, 0, len(hosts))
	for i, h := range hosts {
		name, err := policy.ParseHostPattern(h)
		if err != nil {
			return nil, invalid(fmt.Sprintf("%s[%d]", field, i), "%q is not a host name or *. wildcard: %v", h, err)
		}
		out = append(out, name)
	}
	return out, nil
}

func checkDistinct(field, p string, j int, other, list string) error {
	switch {
	case p == other:
		return invalid(field, "duplicates %s[%d].placeholder", list, j)
	case strings.Contains(p, other) || strings.Contains(other, p):
		return invalid(field, "%q and %s[%d].placeholder %q: one must not contain the other", p, list, j, other)
	}
	return nil
}
