package fsm

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/pki"
)

// Edge identity commands: join tokens spent once, the certificate that
// owns each edge node id, and the cluster CA's rotation.
const (
	CmdConsumeJoinToken = "consume_join_token"
	CmdRevokeJoinToken  = "revoke_join_token"
	CmdRenewNodeCert    = "renew_node_cert"
	CmdRemoveEdgeNode   = "remove_edge_node"
	CmdRotateCA         = "rotate_ca"
	CmdFinishCARotation = "finish_ca_rotation"
)

// ConsumeJoinToken spends a join token on an edge's first certificate. It
// is refused (and nothing changes) when the token is unknown, used,
// revoked or expired at At, when SecretHash is not the token's, or when
// another certificate still owns the node id.
type ConsumeJoinToken struct {
	TokenID    string
	SecretHash string
	Cert       state.NodeCert
	At         time.Time
}

// RevokeJoinToken revokes an unused join token.
type RevokeJoinToken struct {
	ID string
	At time.Time
}

// RenewNodeCert replaces the certificate of a node id; OldSerial must be
// the current one (the renewal came over a connection authenticated by
// it).
type RenewNodeCert struct {
	OldSerial string
	Cert      state.NodeCert
}

// RemoveEdgeNode revokes an edge's certificate, forgets the edge (no more
// routing to it) and ends its open sessions.
type RemoveEdgeNode struct {
	ID string
	At time.Time
}

// RotateCA makes CA the cluster CA and keeps the current one trusted as
// retiring until FinishCARotation.
type RotateCA struct {
	CertPEM, KeyPEM, Fingerprint string
	// OldFingerprint is the CA the proposer saw as current; a rotation
	// raced by another one is refused.
	OldFingerprint string
	At             time.Time
}

// FinishCARotation stops trusting every retiring CA.
type FinishCARotation struct{}

func (f *FSM) registerIdentity() {
	handle(f, CmdConsumeJoinToken, func(tx *state.Tx, c ConsumeJoinToken) (any, error) {
		j, err := tx.JoinToken(c.TokenID)
		if err != nil || j.SecretHash != c.SecretHash {
			return nil, &state.Error{Code: "forbidden", Message: "invalid join token"}
		}
		if why := j.Usable(c.At); why != "" {
			return nil, &state.Error{Code: "forbidden", Message: why}
		}
		if old, err := tx.NodeCert(c.Cert.NodeID); err == nil && old.Owns(c.At) {
			return nil, state.Conflict("node id %s is owned by another certificate; remove it first with `livestreams node remove %s`", c.Cert.NodeID, c.Cert.NodeID)
		}
		at := c.At
		j.UsedAt, j.UsedBy = &at, c.Cert.NodeID
		if err := tx.PutJoinToken(j); err != nil {
			return nil, err
		}
		c.Cert.JoinTokenID = j.ID
		return nil, tx.PutNodeCert(c.Cert)
	})
	handle(f, CmdRevokeJoinToken, func(tx *state.Tx, c RevokeJoinToken) (any, error) {
		j, err := tx.JoinToken(c.ID)
		if err != nil {
			return nil, err
		}
		if j.RevokedAt == nil {
			at := c.At
			j.RevokedAt = &at
		}
		return j, tx.PutJoinToken(j)
	})
	handle(f, CmdRenewNodeCert, func(tx *state.Tx, c RenewNodeCert) (any, error) {
		old, err := tx.NodeCert(c.Cert.NodeID)
		if err != nil {
			return nil, err
		}
		if old.RevokedAt != nil || old.Serial != c.OldSerial {
			return nil, &state.Error{Code: "forbidden", Message: "certificate is not the current one of its node"}
		}
		c.Cert.JoinTokenID = old.JoinTokenID
		return nil, tx.PutNodeCert(c.Cert)
	})
	handle(f, CmdRemoveEdgeNode, func(tx *state.Tx, c RemoveEdgeNode) (any, error) {
		cert, certErr := tx.NodeCert(c.ID)
		_, edgeErr := tx.Edge(c.ID)
		if state.IsNotFound(certErr) && state.IsNotFound(edgeErr) {
			return nil, state.NotFound("edge %s", c.ID)
		}
		if certErr == nil && cert.RevokedAt == nil {
			at := c.At
			cert.RevokedAt = &at
			if err := tx.PutNodeCert(cert); err != nil {
				return nil, err
			}
		}
		open, err := tx.Sessions(func(x state.Session) bool { return x.EdgeID == c.ID && x.EndedAt == nil })
		if err != nil {
			return nil, err
		}
		for _, x := range open {
			if err := endSession(tx, x.ID, "node_removed", c.At); err != nil {
				return nil, err
			}
		}
		return nil, tx.DeleteEdge(c.ID)
	})
	handle(f, CmdRotateCA, func(tx *state.Tx, c RotateCA) (any, error) {
		m, ok, err := tx.Meta()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, state.Invalid("cluster is not initialized")
		}
		if cur := (pki.CA{CertPEM: m.CACertPEM}).Fingerprint(); cur != c.OldFingerprint {
			return nil, state.Conflict("the cluster CA changed meanwhile; look again with `livestreams cluster ca`")
		}
		if c.Fingerprint == c.OldFingerprint {
			return nil, state.Invalid("the new CA is the current one")
		}
		if old, err := tx.RetiringCAs(); err != nil {
			return nil, err
		} else if len(old) > 0 {
			return nil, state.Conflict("a CA rotation is under way; finish it first with `livestreams cluster ca finish`")
		}
		if err := tx.PutRetiringCA(state.RetiringCA{Fingerprint: c.OldFingerprint, CertPEM: m.CACertPEM, KeyPEM: m.CAKeyPEM, RetiredAt: c.At}); err != nil {
			return nil, err
		}
		m.CACertPEM, m.CAKeyPEM = c.CertPEM, c.KeyPEM
		return nil, tx.PutMeta(m)
	})
	handle(f, CmdFinishCARotation, func(tx *state.Tx, _ FinishCARotation) (any, error) {
		old, err := tx.RetiringCAs()
		if err != nil {
			return nil, err
		}
		for _, ca := range old {
			if err := tx.DeleteRetiringCA(ca.Fingerprint); err != nil {
				return nil, err
			}
		}
		return len(old), nil
	})
}
