package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"bun-gvproxy/libgvproxy/internal/errs"
)

// rawConfig mirrors the JSON document. Pointers tell a missing field (or null) from a
// written one, so an empty string is refused like any other bad value instead of
// silently meaning the default,
// rawNumber keeps numbers as written so "80.5", "1e3" or "\"80\"" are refused in
// validation, where the field's full path (with array indices) is known.
type rawConfig struct {
	SocketPath       string           `json:"socketPath"`
	Protocol         *string          `json:"protocol"`
	Subnet           *string          `json:"subnet"`
	GatewayIP        *string          `json:"gatewayIp"`
	GuestIP          *string          `json:"guestIp"`
	GatewayMAC       *string          `json:"gatewayMac"`
	GuestMAC         *string          `json:"guestMac"`
	MTU              rawNumber        `json:"mtu"`
	PortMappings     []rawPortMapping `json:"portMappings"`
	DNSZones         []rawDNSZone     `json:"dnsZones"`
	DNSSearchDomains []string         `json:"dnsSearchDomains"`
	HostLoopback     *bool            `json:"hostLoopback"`
	HostLoopbackIP   *string          `json:"hostLoopbackIp"`
	HostSockets      []rawHostSocket  `json:"hostSockets"`
	AllowNet         rawAllowNet      `json:"allowNet"`
	CaptureFile      *string          `json:"captureFile"`
	Debug            bool             `json:"debug"`
	Secrets          []rawSecret      `json:"secrets"`
	TLSInterception  *rawInterception `json:"tlsInterception"`
}

type rawPortMapping struct {
	HostIP    *string   `json:"hostIp"`
	HostPort  rawNumber `json:"hostPort"`
	GuestPort rawNumber `json:"guestPort"`
	Protocol  *string   `json:"protocol"`
}

type rawDNSZone struct {
	Name      string         `json:"name"`
	Records   []rawDNSRecord `json:"records"`
	DefaultIP *string        `json:"defaultIp"`
}

type rawDNSRecord struct {
	Name string `json:"name"`
	IP   string `json:"ip"`
}

// Decode parses a JSON config, applies defaults and validates every field. Errors are
// *errs.Error with code INVALID_CONFIG naming the field.
func Decode(data []byte) (*Config, error) {
	raw, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	return validate(raw)
}

func decodeJSON(data []byte) (*rawConfig, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errs.New(errs.InvalidConfig, "config: unexpected data after the JSON object")
	}
	return &raw, nil
}

// jsonError turns encoding/json's errors into INVALID_CONFIG errors naming the field.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "config"
		}
		return errs.Field(errs.InvalidConfig, field, "expected %s, got JSON %s", goTypeName(typeErr), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return errs.New(errs.InvalidConfig, "config: invalid JSON at byte %d: %v", syntaxErr.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return errs.Field(errs.InvalidConfig, strings.Trim(name, `"`), "unknown field")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.New(errs.InvalidConfig, "config: empty or truncated JSON document")
	default:
		return errs.Wrap(errs.InvalidConfig, err, "config: cannot decode JSON")
	}
}

func goTypeName(e *json.UnmarshalTypeError) string {
	switch e.Type.Kind().String() {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "ptr", "map":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	default:
		return fmt.Sprintf("a %s", e.Type)
	}
}

// rawNumber holds a JSON value exactly as written; validation decides whether it is an
// integer. A JSON null leaves it nil, the same as a missing field.
type rawNumber []byte

func (n *rawNumber) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = nil
		return nil
	}
	*n = append((*n)[:0], b...)
	return nil
}

// textOr is an optional text field's value, or def when it was not written.
func textOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
