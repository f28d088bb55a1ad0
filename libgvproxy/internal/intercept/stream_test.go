package intercept

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
)

// upgradeEcho accepts a WebSocket-style upgrade that carries the real value and then
// echoes raw bytes.
func upgradeEcho(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+value || r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "no value or no upgrade: "+r.Header.Get("Authorization"), http.StatusUnauthorized)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		_, _ = io.Copy(conn, rw)
	}
}

func TestAnUpgradeThatCarriedASecretPassesThrough(t *testing.T) {
	h := newHarness(t, upgradeEcho(t), false, sni, true)
	guestSide, networkSide := tcpPair(t)
	go h.serve(networkSide)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(h.ca.CertificatePEM()))
	c := tls.Client(guestSide, &tls.Config{ServerName: sni, RootCAs: pool, NextProtos: []string{"http/1.1"}})
	defer c.Close()
	_, err := io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: "+sni+"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer "+placeholder+"\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	for _, msg := range []string{"hello", "second message"} {
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q, %v", got, err)
		}
	}
}

// A large body arrives byte for byte, with a value in it redacted, over both protocols.
func TestALargeBodyArrivesIntact(t *testing.T) {
	const size = 32 << 20
	chunk := []byte(strings.Repeat("0123456789abcdef", 4096))
	handler := func(w http.ResponseWriter, r *http.Request) {
		for sent := 0; sent < size; sent += len(chunk) {
			_, _ = w.Write(chunk)
		}
		_, _ = io.WriteString(w, "tail "+value)
	}
	want := sha256.New()
	for sent := 0; sent < size; sent += len(chunk) {
		want.Write(chunk)
	}
	io.WriteString(want, "tail "+placeholder)
	for _, h2 := range []bool{false, true} {
		h := newHarness(t, http.HandlerFunc(handler), h2, sni, true)
		resp, err := h.client(h2).Get("https://" + sni + "/big")
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.New()
		n, err := io.Copy(got, resp.Body)
		resp.Body.Close()
		if err != nil || n != size+int64(len("tail "+placeholder)) || string(got.Sum(nil)) != string(want.Sum(nil)) {
			t.Fatalf("h2=%v: %d bytes, %v; digest differs: %v", h2, n, err, string(got.Sum(nil)) != string(want.Sum(nil)))
		}
	}
}
