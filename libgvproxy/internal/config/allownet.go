package config

import (
	"encoding/json"
	"errors"
	"fmt"

	"bun-gvproxy/libgvproxy/internal/policy"
)

// AllowNetNone is the allowNet value that refuses every egress flow.
const AllowNetNone = "none"

// rawAllowNet is allowNet as written: a list of entries, or the string "none".
type rawAllowNet struct {
	entries []string
	none    bool
	// bad is what was written when it is neither; validation reports it with the field.
	bad string
}

func (a *rawAllowNet) UnmarshalJSON(b []byte) error {
	*a = rawAllowNet{}
	if string(b) == "null" {
		return nil
	}
	var text string
	if err := json.Unmarshal(b, &text); err == nil {
		if text == AllowNetNone {
			a.none = true
			return nil
		}
		a.bad = fmt.Sprintf("the string %q", text)
		return nil
	}
	if err := json.Unmarshal(b, &a.entries); err != nil {
		a.bad = string(b)
		if len(a.bad) > 60 {
			a.bad = a.bad[:60] + "..."
		}
	}
	return nil
}

// AllowNet is a validated allowNet value.
type AllowNet struct {
	Entries []string
	None    bool
}

// ParseAllowNet validates an allowNet value given as JSON (setAllowNet's argument):
// an array of entries, or "none". Errors are INVALID_CONFIG naming field.
func ParseAllowNet(data []byte, field string) (AllowNet, error) {
	var raw rawAllowNet
	if err := json.Unmarshal(data, &raw); err != nil {
		return AllowNet{}, invalid(field, "expected an array of entries or \"none\": %v", err)
	}
	if string(data) == "null" {
		return AllowNet{}, invalid(field, "expected an array of entries or \"none\", got null")
	}
	return checkAllowNet(raw, field)
}

// checkAllowNet applies the policy engine's own parser, so what is accepted is exactly
// what the engine enforces (names, *.wildcards, IPs, CIDRs, each with an optional port).
func checkAllowNet(raw rawAllowNet, field string) (AllowNet, error) {
	if raw.bad != "" {
		return AllowNet{}, invalid(field, "expected an array of entries or \"none\", got %s", raw.bad)
	}
	if raw.none {
		return AllowNet{None: true}, nil
	}
	if _, err := policy.ParseAllowNet(raw.entries); err != nil {
		var entryErr *policy.EntryError
		if errors.As(err, &entryErr) {
			return AllowNet{}, invalid(field+entryErr.Field()[len("allowNet"):], "%q: %s", entryErr.Entry, entryErr.Reason)
		}
		return AllowNet{}, invalid(field, "%v", err)
	}
	return AllowNet{Entries: append([]string{}, raw.entries...)}, nil
}
