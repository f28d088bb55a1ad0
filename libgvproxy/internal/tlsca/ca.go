// Package tlsca is the certificate authority of TLS interception: generated in memory
// for one network unless the user gives one, it signs a leaf certificate for each
// intercepted server name (cached, so a name costs one signature until it nears expiry).
package tlsca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Leaf certificates live a day (clients accept short lives; a cached one is renewed
// an hour before it ends), and are back-dated an hour for a guest clock slightly behind.
const (
	leafLifetime = 24 * time.Hour
	leafRenewal  = time.Hour
	clockSkew    = time.Hour
	// maxCachedLeaves bounds the cache; past it the cache starts over.
	maxCachedLeaves = 1024
)

// CA signs leaf certificates. Safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM string
	leafKey *ecdsa.PrivateKey // one key for every leaf: a signature per name, no key generation

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
	now    func() time.Time
}

// Generate makes a new CA (ECDSA P-256, valid ten years) that exists only in memory.
func Generate() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the interception CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "bun-gvproxy interception CA " + now.UTC().Format(time.RFC3339)},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("signing the interception CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the interception CA certificate: %w", err)
	}
	return newCA(cert, key)
}

// Parse loads a CA from PEM: a CA certificate (basic constraints with CA set) and its
// private key (PKCS#8, SEC 1 EC or PKCS#1 RSA) matching it. Errors say which part is wrong.
func Parse(certPEM, keyPEM string) (*CA, error) {
	cert, err := parseCertificate(certPEM)
	if err != nil {
		return nil, &PartError{Part: "certPem", Err: err}
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, &PartError{Part: "keyPem", Err: err}
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, &PartError{Part: "keyPem", Err: errors.New("the key does not belong to the certificate")}
	}
	return newCA(cert, key)
}

// PartError says which part of a given CA (certPem or keyPem) is wrong.
type PartError struct {
	Part string
	Err  error
}

func (e *PartError) Error() string { return e.Part + ": " + e.Err.Error() }
func (e *PartError) Unwrap() error { return e.Err }

func newCA(cert *x509.Certificate, key crypto.Signer) (*CA, error) {
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the leaf key: %w", err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	return &CA{cert: cert, key: key, certPEM: pemText, leafKey: leafKey, leaves: map[string]*tls.Certificate{}, now: time.Now}, nil
}

// CertificatePEM is the CA certificate the guest must trust.
func (c *CA) CertificatePEM() string { return c.certPEM }

// Leaf returns a certificate for name signed by the CA, from the cache while it is
// more than an hour from expiry.
func (c *CA) Leaf(name string) (*tls.Certificate, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if leaf, ok := c.leaves[name]; ok && now.Add(leafRenewal).Before(leaf.Leaf.NotAfter) {
		return leaf, nil
	}
	leaf, err := c.sign(name, now)
	if err != nil {
		return nil, err
	}
	if len(c.leaves) >= maxCachedLeaves {
		clear(c.leaves)
	}
	c.leaves[name] = leaf
	return leaf, nil
}

func (c *CA) sign(name string, now time.Time) (*tls.Certificate, error) {
	notAfter := now.Add(leafLifetime)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, c.leafKey.Public(), c.key)
	if err != nil {
		return nil, fmt.Errorf("signing a leaf certificate for %s: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the leaf certificate for %s: %w", name, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: c.leafKey, Leaf: leaf}, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+ crashes instead).
		panic(err)
	}
	return n
}
