package state

import "time"

// NodeCert is the certificate that owns an edge node id: the one serial
// the control plane accepts for that id. A renewal replaces the serial (the
// old certificate stops working); `node remove` revokes it. The table is
// the revocation list: any certificate whose serial is not the current,
// unrevoked one of its node id is refused.
type NodeCert struct {
	NodeID        string     `json:"node_id"`
	Serial        string     `json:"serial"`
	CAFingerprint string     `json:"ca_fingerprint"` // the CA that issued it
	IssuedAt      time.Time  `json:"issued_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	JoinTokenID   string     `json:"join_token_id,omitempty"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
}

// Owns reports whether the certificate still owns its node id at now.
func (c NodeCert) Owns(now time.Time) bool { return c.RevokedAt == nil && now.Before(c.ExpiresAt) }

// NodeCert returns the certificate record of an edge node id.
func (t *Tx) NodeCert(nodeID string) (NodeCert, error) {
	var c NodeCert
	ok, err := t.get(bNodeCerts, nodeID, &c)
	if err == nil && !ok {
		err = NotFound("certificate of node %s", nodeID)
	}
	return c, err
}

// NodeCerts lists the certificate records.
func (t *Tx) NodeCerts() ([]NodeCert, error) { return list[NodeCert](t, bNodeCerts, "") }

// PutNodeCert stores a certificate record.
func (t *Tx) PutNodeCert(c NodeCert) error { return t.put(bNodeCerts, c.NodeID, c) }
