package secrets

import (
	"strings"

	"bun-gvproxy/libgvproxy/internal/policy"
)

// Secret is one validated secret: Hosts are normalised names or "*." wildcards.
type Secret struct {
	Placeholder string
	Value       string
	Hosts       []string
}

// entry is a secret with its hosts compiled into a matcher.
type entry struct {
	Secret
	hosts *policy.Policy
}

// Set is an immutable set of validated secrets (see Validate). A nil *Set is empty.
type Set struct {
	entries  []entry
	redactor *Redactor
}

// NewSet builds the set of secrets list, which must have passed Validate.
func NewSet(list []Secret) (*Set, error) {
	s := &Set{}
	for _, sec := range list {
		hosts, err := policy.ParseAllowNet(sec.Hosts)
		if err != nil {
			return nil, err
		}
		s.entries = append(s.entries, entry{Secret: sec, hosts: hosts})
	}
	s.redactor = newRedactor(s.entries)
	return s, nil
}

// Len is the number of secrets.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.entries)
}

// Intercepts reports whether a TLS connection naming host (its SNI) is to be
// intercepted: host is one of some secret's hosts.
func (s *Set) Intercepts(host string) bool {
	if s == nil {
		return false
	}
	for i := range s.entries {
		if s.entries[i].hosts.MatchesName(host) {
			return true
		}
	}
	return false
}

// Redactor is the set's redactor (values to placeholders); nil for an empty set.
func (s *Set) Redactor() *Redactor {
	if s == nil {
		return nil
	}
	return s.redactor
}

// ContainsPlaceholder reports whether text holds any secret's placeholder, and returns
// the first found (for a misuse report).
func (s *Set) ContainsPlaceholder(text string) (string, bool) {
	if s == nil {
		return "", false
	}
	for i := range s.entries {
		if strings.Contains(text, s.entries[i].Placeholder) {
			return s.entries[i].Placeholder, true
		}
	}
	return "", false
}

// ContainsPlaceholderFold is ContainsPlaceholder ignoring case, for text that is
// case-insensitive (header names, which HTTP canonicalises).
func (s *Set) ContainsPlaceholderFold(text string) (string, bool) {
	if s == nil {
		return "", false
	}
	lower := strings.ToLower(text)
	for i := range s.entries {
		if strings.Contains(lower, strings.ToLower(s.entries[i].Placeholder)) {
			return s.entries[i].Placeholder, true
		}
	}
	return "", false
}

// Misplaced returns the first placeholder in text whose secret does not cover host,
// or "" when every placeholder in text belongs there.
func (s *Set) Misplaced(text, host string) string {
	if s == nil {
		return ""
	}
	for i := range s.entries {
		e := &s.entries[i]
		if strings.Contains(text, e.Placeholder) && !e.hosts.MatchesName(host) {
			return e.Placeholder
		}
	}
	return ""
}

// Substitute replaces in text every placeholder of a secret covering host by its
// value, in one pass (a value is never scanned again for placeholders). Placeholders
// of secrets not covering host are left: check Misplaced first.
func (s *Set) Substitute(text, host string) string {
	if s == nil {
		return text
	}
	var pairs []string
	for i := range s.entries {
		e := &s.entries[i]
		if strings.Contains(text, e.Placeholder) && e.hosts.MatchesName(host) {
			pairs = append(pairs, e.Placeholder, e.Value)
		}
	}
	if len(pairs) == 0 {
		return text
	}
	return strings.NewReplacer(pairs...).Replace(text)
}
