// Package pki is the cluster's small private PKI: the control plane's
// certificate authority, the server certificates it issues to control-plane
// nodes, and the join tokens that let an edge that has nothing but a token
// pin that CA on its first connection (the way kubeadm pins a CA hash).
//
// An edge uses its join token once, to have a CSR signed (IssueNodeCert):
// from then on it authenticates with that client certificate, bound to its
// node id (NodeID), over mutual TLS. The package keeps no revocation or
// rotation bookkeeping: the control plane stores tokens, certificates and
// the trusted CAs (a Bundle) in its replicated state and decides which are
// valid.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"time"
)

// CAValidity is how long a cluster CA is valid.
const CAValidity = 10 * 365 * 24 * time.Hour

// clockSkew backdates certificates so a peer whose clock runs a little
// behind does not reject a certificate issued a moment ago.
const clockSkew = time.Hour

// CA is a cluster certificate authority in PEM form, so it can be stored as
// JSON in the control plane's replicated state. KeyPEM is a secret: CA
// formats itself (fmt, slog) by fingerprint only.
type CA struct {
	CertPEM string `json:"cert_pem"`
	KeyPEM  string `json:"key_pem"`
}

// NewCA creates a self-signed ECDSA P-256 CA for the named cluster.
func NewCA(clusterName string) (CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CA{}, fmt.Errorf("generate ca key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return CA{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "Livestreams cluster CA " + clusterName,
			Organization: []string{"Livestreams"},
		},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return CA{}, fmt.Errorf("create ca certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return CA{}, fmt.Errorf("marshal ca key: %w", err)
	}
	return CA{
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
	}, nil
}

// Certificate parses the CA certificate.
func (ca CA) Certificate() (*x509.Certificate, error) {
	der, err := decodePEM(ca.CertPEM, "CERTIFICATE")
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	return cert, nil
}

// Fingerprint is the lowercase hex SHA-256 of the CA certificate's DER
// encoding, the value join tokens pin. It is "" if CertPEM is malformed.
func (ca CA) Fingerprint() string {
	der, err := decodePEM(ca.CertPEM, "CERTIFICATE")
	if err != nil {
		return ""
	}
	return fingerprint(der)
}

// Pool returns a pool holding only this CA, for peers that already trust it
// (control-plane nodes, tests). It is empty if CertPEM is malformed.
func (ca CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	if cert, err := ca.Certificate(); err == nil {
		pool.AddCert(cert)
	}
	return pool
}

// IssueServerCert issues a TLS server certificate for names, each a DNS name
// or an IP address, valid for ttl (capped at the CA's own expiry). The chain
// in the result carries the CA certificate after the leaf, because edges
// find the CA to pin in the chain the server sends.
func (ca CA) IssueServerCert(names []string, ttl time.Duration) (tls.Certificate, error) {
	if len(names) == 0 {
		return tls.Certificate{}, errors.New("issue server certificate: no names")
	}
	if ttl <= 0 {
		return tls.Certificate{}, fmt.Errorf("issue server certificate: ttl %s is not positive", ttl)
	}
	caCert, err := ca.Certificate()
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate: %w", err)
	}
	caKey, err := ca.signer()
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"Livestreams"}},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(caCert.NotAfter) {
		tmpl.NotAfter = caCert.NotAfter
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if n != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der, caCert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// String identifies the CA without its key.
func (ca CA) String() string { return "CA(sha256:" + ca.Fingerprint() + ")" }

// LogValue keeps the CA key out of structured logs.
func (ca CA) LogValue() slog.Value { return slog.StringValue(ca.String()) }

func (ca CA) signer() (crypto.Signer, error) { return parseSigner(ca.KeyPEM, "ca key") }

// parseSigner reads a PEM PKCS #8 private key that can sign; what names
// the key in errors.
func parseSigner(keyPEM, what string) (crypto.Signer, error) {
	der, err := decodePEM(keyPEM, "PRIVATE KEY")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		// The parser's message says nothing about the key's bytes, but keep
		// it out anyway: this is secret material.
		return nil, fmt.Errorf("%s: not a PKCS #8 private key", what)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: %T cannot sign", what, key)
	}
	return s, nil
}

func decodePEM(s, typ string) ([]byte, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != typ {
		return nil, fmt.Errorf("PEM block is %q, want %q", block.Type, typ)
	}
	return block.Bytes, nil
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return serial, nil
}
