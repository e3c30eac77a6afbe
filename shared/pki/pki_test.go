package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func newTestCA(t *testing.T, name string) CA {
	t.Helper()
	ca, err := NewCA(name)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func TestCAIssueServerCert(t *testing.T) {
	ca := newTestCA(t, "test")
	if fp := ca.Fingerprint(); !isFingerprint(fp) {
		t.Fatalf("Fingerprint = %q, want 64 hex digits", fp)
	}
	caCert, err := ca.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if !caCert.IsCA || caCert.NotAfter.Sub(time.Now()) < 9*365*24*time.Hour {
		t.Fatalf("CA: IsCA=%v NotAfter=%v", caCert.IsCA, caCert.NotAfter)
	}

	cert, err := ca.IssueServerCert([]string{ControlServerName, "127.0.0.1", "::1"}, time.Hour)
	if err != nil {
		t.Fatalf("IssueServerCert: %v", err)
	}
	if len(cert.Certificate) != 2 {
		t.Fatalf("chain has %d certificates, want leaf and CA", len(cert.Certificate))
	}
	for _, name := range []string{ControlServerName, "127.0.0.1", "::1"} {
		_, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			t.Errorf("verify leaf for %s: %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: ca.Pool()}); err == nil {
		t.Error("leaf verified for a name it was not issued for")
	}

	for _, tc := range []struct {
		names []string
		ttl   time.Duration
	}{{nil, time.Hour}, {[]string{"x"}, 0}} {
		if _, err := ca.IssueServerCert(tc.names, tc.ttl); err == nil {
			t.Errorf("IssueServerCert(%v, %v): no error", tc.names, tc.ttl)
		}
	}
	if _, err := (CA{CertPEM: ca.CertPEM, KeyPEM: "garbage"}).IssueServerCert([]string{"x"}, time.Hour); err == nil {
		t.Error("IssueServerCert with a broken key: no error")
	}
}

func TestCAJSONAndFormatting(t *testing.T) {
	ca := newTestCA(t, "test")
	b, err := json.Marshal(ca)
	if err != nil {
		t.Fatal(err)
	}
	var back CA
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != ca {
		t.Fatal("CA did not survive a JSON round trip")
	}
	for _, s := range []string{fmt.Sprint(ca), fmt.Sprintf("%v", ca), ca.LogValue().String()} {
		if strings.Contains(s, "PRIVATE") || !strings.Contains(s, ca.Fingerprint()) {
			t.Errorf("formatted CA = %q, want fingerprint and no key", s)
		}
	}
	if (CA{}).Fingerprint() != "" {
		t.Error("empty CA has a fingerprint")
	}
}

// handshake runs a TLS handshake over loopback TCP and returns the client's
// error. (An in-memory pipe deadlocks: TLS 1.3 servers write session
// tickets while the client writes its close.)
func handshake(t *testing.T, server tls.Certificate, client *tls.Config) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(5 * time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetDeadline(deadline)
		srv := tls.Server(c, ServerTLSConfig(server))
		srv.Handshake()
		srv.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(deadline)
	cl := tls.Client(c, client)
	err = cl.Handshake()
	if err == nil && cl.ConnectionState().NegotiatedProtocol != ALPN {
		err = fmt.Errorf("negotiated %q, want %q", cl.ConnectionState().NegotiatedProtocol, ALPN)
	}
	cl.Close()
	<-done
	return err
}

func TestClientTLSConfigPinning(t *testing.T) {
	ca := newTestCA(t, "test")
	other := newTestCA(t, "other")
	good, err := ca.IssueServerCert([]string{ControlServerName, "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fromOther, err := other.IssueServerCert([]string{ControlServerName}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A server that sends the pinned CA in its chain but whose leaf that CA
	// never signed.
	forged := fromOther
	forged.Certificate = [][]byte{fromOther.Certificate[0], good.Certificate[1]}
	leafOnly := good
	leafOnly.Certificate = good.Certificate[:1]

	tests := []struct {
		name       string
		cert       tls.Certificate
		pin        string
		serverName string
		ok         bool
	}{
		{"pin matches", good, ca.Fingerprint(), ControlServerName, true},
		{"pin in upper case", good, strings.ToUpper(ca.Fingerprint()), ControlServerName, true},
		{"ip name", good, ca.Fingerprint(), "127.0.0.1", true},
		{"no name checks only the ca", good, ca.Fingerprint(), "", true},
		{"wrong pin", good, other.Fingerprint(), ControlServerName, false},
		{"server from another ca", fromOther, ca.Fingerprint(), ControlServerName, false},
		{"pinned ca sent with a foreign leaf", forged, ca.Fingerprint(), ControlServerName, false},
		{"chain without the ca", leafOnly, ca.Fingerprint(), ControlServerName, false},
		{"wrong server name", good, ca.Fingerprint(), "evil.example", false},
		{"empty pin", good, "", ControlServerName, false},
		{"truncated pin", good, ca.Fingerprint()[:32], ControlServerName, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t, tc.cert, ClientTLSConfig(tc.pin, tc.serverName))
			if tc.ok && err != nil {
				t.Fatalf("handshake failed: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("handshake succeeded, want failure")
			}
		})
	}
}

func TestJoinToken(t *testing.T) {
	ca := newTestCA(t, "test")
	tok, plain, err := NewJoinToken(ca.Fingerprint())
	if err != nil {
		t.Fatalf("NewJoinToken: %v", err)
	}
	if !strings.HasPrefix(plain, JoinTokenPrefix) {
		t.Fatalf("token %q lacks prefix", plain)
	}
	id, secret, fp, err := ParseJoinToken(plain)
	if err != nil {
		t.Fatalf("ParseJoinToken: %v", err)
	}
	if id != tok.ID || fp != ca.Fingerprint() || fp != tok.CAFingerprint {
		t.Fatalf("parsed id=%s fp=%s, want %s %s", id, fp, tok.ID, ca.Fingerprint())
	}
	if strings.Contains(tok.SecretHash, secret) || len(tok.SecretHash) != 64 {
		t.Fatal("stored token holds the secret, or a hash of the wrong size")
	}
	if !tok.Check(secret) {
		t.Fatal("Check(secret) = false")
	}
	b, _ := json.Marshal(tok)
	var back JoinToken
	if err := json.Unmarshal(b, &back); err != nil || !back.Check(secret) {
		t.Fatalf("stored token does not check after a JSON round trip: %v", err)
	}
	if _, plain2, _ := NewJoinToken(ca.Fingerprint()); plain2 == plain {
		t.Fatal("two tokens are equal")
	}

	for _, bad := range []string{"", secret[:len(secret)-1], secret + "A", strings.ToUpper(secret)} {
		if bad != secret && tok.Check(bad) {
			t.Errorf("Check(%q) = true", bad)
		}
	}
	if (JoinToken{SecretHash: "zz"}).Check(secret) {
		t.Error("Check against a malformed hash = true")
	}
	if _, _, err := NewJoinToken("not-a-fingerprint"); err == nil {
		t.Error("NewJoinToken with a bad fingerprint: no error")
	}
}

func TestParseJoinTokenTampered(t *testing.T) {
	ca := newTestCA(t, "test")
	tok, plain, err := NewJoinToken(ca.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _, _ := ParseJoinToken(plain)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	secretAt := len(JoinTokenPrefix) + len(tok.ID) + 1
	tests := map[string]string{
		"no prefix":        strings.TrimPrefix(plain, JoinTokenPrefix),
		"other prefix":     "lsk_" + strings.TrimPrefix(plain, JoinTokenPrefix),
		"two parts":        plain[:strings.LastIndex(plain, ".")],
		"four parts":       plain + ".x",
		"short id":         JoinTokenPrefix + tok.ID[1:] + plain[len(JoinTokenPrefix)+len(tok.ID):],
		"short secret":     strings.Replace(plain, secret, secret[1:], 1),
		"bad secret chars": strings.Replace(plain, secret, "!"+secret[1:], 1),
		"short pin":        plain[:len(plain)-2],
		"upper-case pin":   strings.Replace(plain, tok.CAFingerprint, strings.ToUpper(tok.CAFingerprint), 1),
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, _, err := ParseJoinToken(s)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q repeats the secret", err)
			}
		})
	}

	// A token whose secret was altered but is still well formed parses and
	// then fails the check.
	for i := secretAt; i < secretAt+len(secret)-1; i += 7 {
		_, s2, _, err := ParseJoinToken(flip(plain, i))
		if err != nil {
			continue
		}
		if tok.Check(s2) {
			t.Fatalf("tampered secret at %d passes Check", i)
		}
	}
}
