package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"
)

func TestLeavesVerifyAgainstTheCAForTheirNameOnly(t *testing.T) {
	ca, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(ca.CertificatePEM())) {
		t.Fatal("CertificatePEM is not a PEM certificate")
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "api.example.com", Roots: roots}); err != nil {
		t.Fatalf("leaf does not verify: %v", err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "other.example.com", Roots: roots}); err == nil {
		t.Fatal("leaf verified for another name")
	}
	other, _ := Generate()
	otherRoots := x509.NewCertPool()
	otherRoots.AppendCertsFromPEM([]byte(other.CertificatePEM()))
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "api.example.com", Roots: otherRoots}); err == nil {
		t.Fatal("a leaf verified against another backend's CA")
	}
}

func TestLeavesAreCachedUntilNearExpiry(t *testing.T) {
	ca, _ := Generate()
	a, _ := ca.Leaf("a.example")
	again, _ := ca.Leaf("a.example")
	if a != again {
		t.Fatal("a second Leaf for the same name signed again")
	}
	ca.now = func() time.Time { return time.Now().Add(leafLifetime) }
	renewed, _ := ca.Leaf("a.example")
	if renewed == a {
		t.Fatal("a leaf near expiry was not renewed")
	}
}

func TestParseChecksTheCAAndItsKey(t *testing.T) {
	ca, _ := Generate()
	keyDER, _ := x509.MarshalPKCS8PrivateKey(ca.key)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	parsed, err := Parse(ca.CertificatePEM(), keyPEM)
	if err != nil || parsed.CertificatePEM() != ca.CertificatePEM() {
		t.Fatalf("a valid CA was refused: %v", err)
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.MarshalECPrivateKey(otherKey)
	otherPEM := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: otherDER}))
	leaf, _ := ca.Leaf("leaf.example")
	leafPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Leaf.Raw}))
	for _, c := range []struct {
		name, cert, key, part string
	}{
		{"not PEM", "garbage", keyPEM, "certPem"},
		{"a leaf, not a CA", leafPEM, keyPEM, "certPem"},
		{"no key", ca.CertificatePEM(), "", "keyPem"},
		{"a certificate as key", ca.CertificatePEM(), ca.CertificatePEM(), "keyPem"},
		{"another key", ca.CertificatePEM(), otherPEM, "keyPem"},
	} {
		_, err := Parse(c.cert, c.key)
		var part *PartError
		if !errors.As(err, &part) || part.Part != c.part {
			t.Errorf("%s: got %v, want an error about %s", c.name, err, c.part)
		}
	}
}

func TestParseRootsNamesTheEntryWithoutACertificate(t *testing.T) {
	ca, _ := Generate()
	if certs, _, err := ParseRoots([]string{ca.CertificatePEM() + ca.CertificatePEM()}); err != nil || len(certs) != 2 {
		t.Fatalf("two certificates in one entry: %d, %v", len(certs), err)
	}
	if _, at, err := ParseRoots([]string{ca.CertificatePEM(), "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"}); err == nil || at != 1 {
		t.Fatalf("got index %d, %v", at, err)
	}
}
