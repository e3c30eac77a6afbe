package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// ALPN is the application protocol edges and the control plane negotiate.
const ALPN = "livestreams/1"

// ControlServerName is the name every control-plane server certificate
// carries, so edges can verify a name whatever address they dialed.
const ControlServerName = "control.livestreams.internal"

// ServerTLSConfig is the control plane's TLS configuration for cert.
func ServerTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{ALPN},
		MinVersion:   tls.VersionTLS13,
	}
}

// ClientTLSConfig is an edge's TLS configuration for reaching the control
// plane when all it knows is the CA fingerprint from its join token. The
// server's chain must contain a CA certificate with that fingerprint, and
// the leaf must verify against that CA alone (as a server certificate, and
// for serverName unless it is empty; an empty serverName accepts any
// certificate the pinned CA issued, which is safe because that CA is
// private to the cluster). A malformed pin fails every handshake.
func ClientTLSConfig(caFingerprint string, serverName string) *tls.Config {
	pin := strings.ToLower(caFingerprint)
	return &tls.Config{
		ServerName: serverName,
		NextProtos: []string{ALPN},
		MinVersion: tls.VersionTLS13,
		// The standard verification needs the CA in RootCAs, which the edge
		// does not have yet; VerifyConnection below does the whole chain
		// verification against the pinned CA instead, so nothing is skipped.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, pin, serverName)
		},
	}
}

// verifyPinned verifies certs (leaf first, as the server sent them) against
// the CA among them whose fingerprint is pin.
func verifyPinned(certs []*x509.Certificate, pin, serverName string) error {
	if !isFingerprint(pin) {
		return errors.New("verify control plane: ca pin is not a hex sha-256")
	}
	if len(certs) == 0 {
		return errors.New("verify control plane: no server certificate")
	}
	var ca *x509.Certificate
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		if ca == nil && fingerprint(c.Raw) == pin {
			ca = c
			continue
		}
		intermediates.AddCert(c)
	}
	if ca == nil {
		return errors.New("verify control plane: server chain does not contain the pinned ca")
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return errors.New("verify control plane: pinned certificate is not a ca")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := certs[0].Verify(x509.VerifyOptions{
		DNSName:       serverName,
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("verify control plane: %w", err)
	}
	return nil
}
