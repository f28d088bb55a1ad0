package network

import (
	"crypto/x509"
	"fmt"

	"bun-gvproxy/libgvproxy/internal/errs"
	"bun-gvproxy/libgvproxy/internal/intercept"
	"bun-gvproxy/libgvproxy/internal/secrets"
	"bun-gvproxy/libgvproxy/internal/tlsca"
)

// Ports whose connections secrets change: TLS to a secret's host on interceptPort is
// intercepted; plain text on plainHTTPPort must not carry a placeholder.
const (
	interceptPort = 443
	plainHTTPPort = 80
)

// setSecretList builds the set of list and puts it in force for new requests; the
// interceptor starts with the first non-empty set.
func (n *Network) setSecretList(list []secrets.Secret) error {
	set, err := secrets.NewSet(list)
	if err != nil {
		return errs.Wrap(errs.InvalidConfig, err, "secrets").WithField("secrets")
	}
	if set.Len() > 0 {
		if err := n.ensureInterceptor(); err != nil {
			return err
		}
	}
	n.secrets.Store(set)
	return nil
}

// SetSecrets replaces the secrets (setSecrets): the next request uses the new values.
func (n *Network) SetSecrets(list []secrets.Secret) error { return n.setSecretList(list) }

// CACertificatePEM is the interception CA the guest must trust (made on first use).
func (n *Network) CACertificatePEM() (string, error) {
	ca, err := n.interceptionCA()
	if err != nil {
		return "", err
	}
	return ca.CertificatePEM(), nil
}

// interceptionCA is the configured CA, or one generated for this network when first needed.
func (n *Network) interceptionCA() (*tlsca.CA, error) {
	n.caOnce.Do(func() {
		if n.cfg.Interception.CA != nil {
			n.ca = n.cfg.Interception.CA
			return
		}
		n.ca, n.caErr = tlsca.Generate()
	})
	if n.caErr != nil {
		return nil, errs.Wrap(errs.Internal, n.caErr, "tlsInterception")
	}
	return n.ca, nil
}

// ensureInterceptor starts the interceptor once; it lives until the network closes.
func (n *Network) ensureInterceptor() error {
	n.interceptMu.Lock()
	defer n.interceptMu.Unlock()
	if n.interceptor != nil {
		return nil
	}
	roots, err := upstreamRoots(n.cfg.Interception.UpstreamRoots)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "tlsInterception.upstreamCaPem")
	}
	icpt := intercept.New(intercept.Options{CA: n.interceptionCA, Roots: roots, Secrets: n.secrets.Load, Log: n.log})
	if _, ok := n.group.Track(icpt); !ok {
		return errs.New(errs.Destroyed, "the network is closing")
	}
	if !n.group.Go(icpt.Run) {
		_ = icpt.Close()
		return errs.New(errs.Destroyed, "the network is closing")
	}
	n.interceptor = icpt
	return nil
}

// upstreamRoots are the system roots plus the configured extra ones.
func upstreamRoots(extra []*x509.Certificate) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		if len(extra) == 0 {
			return nil, fmt.Errorf("no system roots and no upstreamCaPem: %w", err)
		}
		pool = x509.NewCertPool()
	} else {
		pool = pool.Clone()
	}
	for _, c := range extra {
		pool.AddCert(c)
	}
	return pool, nil
}
