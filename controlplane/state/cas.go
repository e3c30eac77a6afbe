package state

import "time"

// RetiringCA is a cluster CA being rotated out: still trusted (edges'
// certificates from it are accepted, and control-plane nodes keep serving
// a certificate from it so edges that have not learnt the new CA yet can
// connect) until the rotation finishes. The current CA is the one in Meta.
// KeyPEM is a secret.
type RetiringCA struct {
	Fingerprint string    `json:"fingerprint"`
	CertPEM     string    `json:"cert_pem"`
	KeyPEM      string    `json:"key_pem"`
	RetiredAt   time.Time `json:"retired_at"`
}

// RetiringCAs lists the CAs being rotated out (none outside a rotation).
func (t *Tx) RetiringCAs() ([]RetiringCA, error) { return list[RetiringCA](t, bClusterCAs, "") }

// PutRetiringCA stores a CA being rotated out.
func (t *Tx) PutRetiringCA(c RetiringCA) error { return t.put(bClusterCAs, c.Fingerprint, c) }

// DeleteRetiringCA stops trusting a retired CA.
func (t *Tx) DeleteRetiringCA(fingerprint string) error { return t.del(bClusterCAs, fingerprint) }
