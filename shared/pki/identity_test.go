package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestIssueNodeCert: the certificate names the node id the CA was told,
// whatever the request asked for, verifies against the bundle as a client
// certificate, and not against another CA.
func TestIssueNodeCert(t *testing.T) {
	ca := newTestCA(t, "test")
	key, keyPEM, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseNodeKey(keyPEM); err != nil {
		t.Fatalf("ParseNodeKey: %v", err)
	}
	csr, err := NewCSR(key, "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ca.IssueNodeCert(csr, "edge-2", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ParseCertPEM(nc.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if Serial(cert) != nc.Serial || nc.Serial == "" {
		t.Fatalf("serial %q, certificate's %q", nc.Serial, Serial(cert))
	}
	id, err := VerifyNodeCert(cert, BundleOf(ca), time.Now())
	if err != nil || id != "edge-2" {
		t.Fatalf("VerifyNodeCert: %q %v, want edge-2 (the CA's choice, not the request's)", id, err)
	}
	other := newTestCA(t, "other")
	if _, err := VerifyNodeCert(cert, BundleOf(other), time.Now()); err == nil {
		t.Fatal("a certificate verified against a CA that did not issue it")
	}
	if _, err := VerifyNodeCert(cert, BundleOf(other, ca), time.Now()); err != nil {
		t.Fatalf("a two-CA bundle (a rotation): %v", err)
	}
	if _, err := VerifyNodeCert(cert, BundleOf(ca), time.Now().Add(2*time.Hour)); err == nil {
		t.Fatal("an expired certificate verified")
	}
	cas, _ := BundleOf(other, ca).Certificates()
	if got := IssuerFingerprint(cert, cas); got != ca.Fingerprint() {
		t.Fatalf("IssuerFingerprint = %s, want %s", got, ca.Fingerprint())
	}
	// A server certificate is not a client certificate.
	srv, err := ca.IssueServerCert([]string{ControlServerName}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyNodeCert(srv.Leaf, BundleOf(ca), time.Now()); err == nil {
		t.Fatal("a server certificate verified as an edge's")
	}
	for _, bad := range []string{"", "a/b", "with space", strings.Repeat("x", 129)} {
		if _, err := ca.IssueNodeCert(csr, bad, time.Hour); err == nil {
			t.Errorf("IssueNodeCert for node id %q: no error", bad)
		}
	}
	if _, err := ca.IssueNodeCert("not a csr", "edge-1", time.Hour); err == nil {
		t.Error("IssueNodeCert of garbage: no error")
	}
}

func TestNodeIDNeedsAgreeingNames(t *testing.T) {
	ca := newTestCA(t, "test")
	key, _, _ := NewNodeKey()
	csr, _ := NewCSR(key, "edge-1")
	nc, _ := ca.IssueNodeCert(csr, "edge-1", time.Hour)
	cert, _ := ParseCertPEM(nc.CertPEM)
	cert.Subject.CommonName = "edge-9"
	if _, err := NodeID(cert); err == nil {
		t.Fatal("a common name that disagrees with the URI SAN was accepted")
	}
	cert.Subject.CommonName = "edge-1"
	u, _ := url.Parse(NodeURIPrefix + "edge-2")
	cert.URIs = append(cert.URIs, u)
	if _, err := NodeID(cert); err == nil {
		t.Fatal("two node ids were accepted")
	}
}

// TestEdgeTLSConfigFollowsBundle: the edge's configuration verifies the
// control plane against whatever bundle is current at the handshake.
func TestEdgeTLSConfigFollowsBundle(t *testing.T) {
	old, cur := newTestCA(t, "old"), newTestCA(t, "new")
	srv, err := old.IssueServerCert([]string{ControlServerName}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bundle := BundleOf(cur)
	conf := EdgeTLSConfig(func() (*tls.Certificate, error) { return &tls.Certificate{}, nil }, func() Bundle { return bundle })
	state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{srv.Leaf}}
	if err := conf.VerifyConnection(state); err == nil {
		t.Fatal("a server certificate from a CA not in the bundle was accepted")
	}
	bundle = BundleOf(cur, old) // a rotation: both trusted
	if err := conf.VerifyConnection(state); err != nil {
		t.Fatalf("with the issuing CA in the bundle: %v", err)
	}
}

// FuzzBundle: a CA bundle comes from the control plane over the network.
func FuzzBundle(f *testing.F) {
	ca, err := NewCA("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(BundleOf(ca)))
	f.Add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		b := Bundle(s)
		certs, err := b.Certificates()
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
		b.Pool()
		b.Fingerprints()
	})
}
