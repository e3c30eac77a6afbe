package fsm

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Signing key command types.
const (
	CmdCreateSigningKey = "create_signing_key"
	CmdRevokeSigningKey = "revoke_signing_key"
)

// RevokeSigningKey revokes a playback signing key of an org.
type RevokeSigningKey struct {
	OrgID, ID string
	At        time.Time
}

func (f *FSM) registerSigningKeys() {
	handle(f, CmdCreateSigningKey, func(tx *state.Tx, k state.SigningKey) (any, error) {
		if _, err := tx.Org(k.OrgID); err != nil {
			return nil, err
		}
		if _, err := tx.SigningKey(k.OrgID, k.ID); err == nil {
			return nil, state.Conflict("signing key %s already exists", k.ID)
		}
		return nil, tx.PutSigningKey(k)
	})
	handle(f, CmdRevokeSigningKey, func(tx *state.Tx, c RevokeSigningKey) (any, error) {
		k, err := tx.SigningKey(c.OrgID, c.ID)
		if err != nil {
			return nil, err
		}
		if k.RevokedAt == nil {
			at := c.At
			k.RevokedAt = &at
		}
		return nil, tx.PutSigningKey(k)
	})
}
