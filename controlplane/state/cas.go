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
// Their keys are sealed like Meta's (sealed.go).
func (t *Tx) RetiringCAs() ([]RetiringCA, error) {
	cas, err := list[RetiringCA](t, bClusterCAs, "")
	for i := range cas {
		if err == nil {
			cas[i].KeyPEM, err = t.openString(SealCAKey, cas[i].KeyPEM)
		}
	}
	return cas, err
}

// PutRetiringCA stores a CA being rotated out.
func (t *Tx) PutRetiringCA(c RetiringCA) error { return t.put(bClusterCAs, c.Fingerprint, c) }

// DeleteRetiringCA stops trusting a retired CA.
func (t *Tx) DeleteRetiringCA(fingerprint string) error { return t.del(bClusterCAs, fingerprint) }
