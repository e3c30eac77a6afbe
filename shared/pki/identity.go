package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// NodeURIPrefix starts the URI SAN that binds an edge certificate to its
// node id: "livestreams://edge/<node-id>".
const NodeURIPrefix = "livestreams://edge/"

// NodeCertValidity is how long an edge certificate is valid. Edges renew
// at their first connection past two thirds of it (or when the cluster CA
// rotated), so the limit only bites an edge that stayed away that long.
const NodeCertValidity = 90 * 24 * time.Hour

// NewNodeKey generates an edge's private key and returns it with its
// PKCS #8 PEM encoding (a secret: the edge keeps it 0600).
func NewNodeKey() (*ecdsa.PrivateKey, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("generate node key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("marshal node key: %w", err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// ParseNodeKey reads a key written by NewNodeKey.
func ParseNodeKey(keyPEM string) (crypto.Signer, error) { return parseSigner(keyPEM, "node key") }

// NewCSR is an edge's certificate request for nodeID, signed with key.
func NewCSR(key crypto.Signer, nodeID string) (string, error) {
	u, err := nodeURI(nodeID)
	if err != nil {
		return "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: nodeID, Organization: []string{"Livestreams"}},
		URIs:    []*url.URL{u},
	}, key)
	if err != nil {
		return "", fmt.Errorf("create certificate request: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// NodeCert is an edge certificate the CA issued.
type NodeCert struct {
	CertPEM  string
	Serial   string // lowercase hex
	NotAfter time.Time
}

// IssueNodeCert signs csrPEM as the client certificate of edge nodeID,
// valid for ttl (capped at the CA's expiry). Whatever names the request
// carries, the certificate carries nodeID alone, as its common name and
// its URI SAN: the CA decides who the edge is, not the edge.
func (ca CA) IssueNodeCert(csrPEM, nodeID string, ttl time.Duration) (NodeCert, error) {
	u, err := nodeURI(nodeID)
	if err != nil {
		return NodeCert{}, err
	}
	der, err := decodePEM(csrPEM, "CERTIFICATE REQUEST")
	if err != nil {
		return NodeCert{}, fmt.Errorf("issue node certificate: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return NodeCert{}, fmt.Errorf("issue node certificate: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return NodeCert{}, fmt.Errorf("issue node certificate: request signature: %w", err)
	}
	caCert, err := ca.Certificate()
	if err != nil {
		return NodeCert{}, fmt.Errorf("issue node certificate: %w", err)
	}
	caKey, err := ca.signer()
	if err != nil {
		return NodeCert{}, fmt.Errorf("issue node certificate: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return NodeCert{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID, Organization: []string{"Livestreams"}},
		URIs:         []*url.URL{u},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotAfter.After(caCert.NotAfter) {
		tmpl.NotAfter = caCert.NotAfter
	}
	out, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, csr.PublicKey, caKey)
	if err != nil {
		return NodeCert{}, fmt.Errorf("issue node certificate: %w", err)
	}
	return NodeCert{
		CertPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: out})),
		Serial:   Serial(tmpl),
		NotAfter: tmpl.NotAfter,
	}, nil
}

// Serial is a certificate's serial number in lowercase hex.
func Serial(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

// NodeID returns the edge node id a certificate is bound to: its URI SAN,
// which must agree with its common name.
func NodeID(c *x509.Certificate) (string, error) {
	var id string
	for _, u := range c.URIs {
		if s, ok := strings.CutPrefix(u.String(), NodeURIPrefix); ok {
			if id != "" {
				return "", errors.New("node certificate: more than one node id")
			}
			id, _ = url.PathUnescape(s)
		}
	}
	if id == "" || id != c.Subject.CommonName {
		return "", errors.New("node certificate: no node id, or one that disagrees with the common name")
	}
	return id, nil
}

func nodeURI(nodeID string) (*url.URL, error) {
	if nodeID == "" || len(nodeID) > 128 || strings.ContainsAny(nodeID, "/ \t\r\n") {
		return nil, errors.New("node id must be 1-128 characters without spaces or slashes")
	}
	return url.Parse(NodeURIPrefix + url.PathEscape(nodeID))
}

// ParseCertPEM parses one PEM certificate.
func ParseCertPEM(certPEM string) (*x509.Certificate, error) {
	der, err := decodePEM(certPEM, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Bundle is the set of CA certificates a peer trusts, in PEM: one CA
// normally, the new and the old one while the cluster CA rotates.
type Bundle string

// BundleOf concatenates the certificates of cas (keys are left out).
func BundleOf(cas ...CA) Bundle {
	var b strings.Builder
	for _, ca := range cas {
		b.WriteString(strings.TrimSpace(ca.CertPEM))
		b.WriteString("\n")
	}
	return Bundle(b.String())
}

// Certificates parses the bundle; it fails unless every block is a CA
// certificate and there is at least one.
func (b Bundle) Certificates() ([]*x509.Certificate, error) {
	rest := []byte(b)
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("ca bundle: PEM block is %q", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca bundle: %w", err)
		}
		if !c.IsCA {
			return nil, errors.New("ca bundle: a certificate is not a ca")
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("ca bundle: no certificate")
	}
	return out, nil
}

// Pool is the bundle as a certificate pool (empty if it is malformed).
func (b Bundle) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	certs, _ := b.Certificates()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// Fingerprints are the bundle's CAs' fingerprints.
func (b Bundle) Fingerprints() []string {
	certs, _ := b.Certificates()
	out := make([]string, 0, len(certs))
	for _, c := range certs {
		out = append(out, fingerprint(c.Raw))
	}
	return out
}

// IssuerFingerprint is the fingerprint of the CA in cas that signed c, or
// "" if none did.
func IssuerFingerprint(c *x509.Certificate, cas []*x509.Certificate) string {
	for _, ca := range cas {
		if c.CheckSignatureFrom(ca) == nil {
			return fingerprint(ca.Raw)
		}
	}
	return ""
}

// EdgeTLSConfig is an edge's TLS configuration once it has joined: it
// presents the certificate cert returns (mutual TLS) and verifies the
// control plane against the CA bundle trust returns, both asked at every
// handshake so a renewed certificate or a rotated bundle applies to the
// next connection.
func EdgeTLSConfig(cert func() (*tls.Certificate, error), trust func() Bundle) *tls.Config {
	return &tls.Config{
		ServerName: ControlServerName,
		NextProtos: []string{ALPN},
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert()
		},
		// The roots change while the config lives; VerifyConnection does
		// the whole verification against the current bundle.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("verify control plane: no server certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: ControlServerName,
				Roots: trust().Pool(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			if err != nil {
				return fmt.Errorf("verify control plane: %w", err)
			}
			return nil
		},
	}
}

// VerifyNodeCert verifies an edge's certificate chain against the trusted
// CAs and returns the node id it is bound to.
func VerifyNodeCert(c *x509.Certificate, trusted Bundle, now time.Time) (string, error) {
	_, err := c.Verify(x509.VerifyOptions{Roots: trusted.Pool(), CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return "", fmt.Errorf("node certificate: %w", err)
	}
	return NodeID(c)
}
