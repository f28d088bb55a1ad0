package config

import (
	"crypto/x509"
	"errors"
	"fmt"

	"bun-gvproxy/libgvproxy/internal/secrets"
	"bun-gvproxy/libgvproxy/internal/tlsca"
)

// Interception is the validated tlsInterception field.
type Interception struct {
	// CA is the given CA, or nil: the network generates one in memory when first needed.
	CA *tlsca.CA
	// UpstreamRoots are trusted for the real hosts besides the system roots.
	UpstreamRoots []*x509.Certificate
}

type rawSecret struct {
	Placeholder string   `json:"placeholder"`
	Value       string   `json:"value"`
	Hosts       []string `json:"hosts"`
}

type rawInterception struct {
	CA            *rawCA   `json:"ca"`
	UpstreamCAPEM []string `json:"upstreamCaPem"`
}

type rawCA struct {
	CertPEM string `json:"certPem"`
	KeyPEM  string `json:"keyPem"`
}

// validateSecrets checks secrets and tlsInterception (package secrets has the rules).
func validateSecrets(raw *rawConfig, c *Config) error {
	list, err := parseSecrets("secrets", raw.Secrets)
	if err != nil {
		return err
	}
	c.Secrets = list
	return parseInterception("tlsInterception", raw.TLSInterception, &c.Interception)
}

func parseSecrets(field string, raw []rawSecret) ([]secrets.Secret, error) {
	list := make([]secrets.Secret, len(raw))
	for i, s := range raw {
		list[i] = secrets.Secret{Placeholder: s.Placeholder, Value: s.Value, Hosts: s.Hosts}
	}
	return secrets.Validate(field, list)
}

func parseInterception(field string, raw *rawInterception, out *Interception) error {
	if raw == nil {
		return nil
	}
	if raw.CA != nil {
		ca, err := tlsca.Parse(raw.CA.CertPEM, raw.CA.KeyPEM)
		var part *tlsca.PartError
		if errors.As(err, &part) {
			return invalid(fmt.Sprintf("%s.ca.%s", field, part.Part), "%v", part.Err)
		}
		if err != nil {
			return invalid(field+".ca", "%v", err)
		}
		out.CA = ca
	}
	roots, at, err := tlsca.ParseRoots(raw.UpstreamCAPEM)
	if err != nil {
		return invalid(fmt.Sprintf("%s.upstreamCaPem[%d]", field, at), "%v", err)
	}
	out.UpstreamRoots = roots
	return nil
}

// ParseSecrets validates setSecrets' argument: a list of secrets, as in the config.
func ParseSecrets(data []byte, field string) ([]secrets.Secret, error) {
	var raw []rawSecret
	if err := decodeArgument(data, field, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, invalid(field, "expected an array of secrets")
	}
	return parseSecrets(field, raw)
}
