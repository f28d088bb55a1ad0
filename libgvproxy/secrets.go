package main

import (
	"bun-gvproxy/libgvproxy/internal/config"
	"bun-gvproxy/libgvproxy/internal/network"
)

// The Go side of the secrets exports (docs/ABI.md, "Secrets").

// setSecretsResult is the value of gvproxy_set_secrets: how many secrets are in force.
type setSecretsResult struct {
	Count int `json:"count"`
}

func setSecrets(id int64, arg []byte) (setSecretsResult, error) {
	return withInstance(id, func(n *network.Network) (setSecretsResult, error) {
		list, err := config.ParseSecrets(arg, "secrets")
		if err != nil {
			return setSecretsResult{}, err
		}
		if err := n.SetSecrets(list); err != nil {
			return setSecretsResult{}, err
		}
		return setSecretsResult{Count: len(list)}, nil
	})
}

// caCertificateResult is the value of gvproxy_ca_certificate.
type caCertificateResult struct {
	CertPEM string `json:"certPem"`
}

func caCertificate(id int64) (caCertificateResult, error) {
	return withInstance(id, func(n *network.Network) (caCertificateResult, error) {
		pem, err := n.CACertificatePEM()
		return caCertificateResult{CertPEM: pem}, err
	})
}
