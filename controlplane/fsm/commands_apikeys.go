package fsm

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// API key command types.
const (
	CmdCreateAPIKey = "create_api_key"
	CmdRevokeAPIKey = "revoke_api_key"
	CmdTouchAPIKey  = "touch_api_key"
)

// RevokeAPIKey revokes a key of an org.
type RevokeAPIKey struct {
	OrgID, ID string
	At        time.Time
}

// TouchAPIKey records a key's last use.
type TouchAPIKey struct {
	ID string
	At time.Time
}

func (f *FSM) registerAPIKeys() {
	handle(f, CmdCreateAPIKey, func(tx *state.Tx, k state.APIKey) (any, error) {
		if _, err := tx.Org(k.OrgID); err != nil {
			return nil, err
		}
		if !k.Role.Valid() {
			return nil, state.Invalid("unknown role %q", k.Role)
		}
		if _, err := tx.APIKeyByHash(k.Hash); err == nil {
			return nil, state.Conflict("api key collision")
		}
		return nil, tx.PutAPIKey(k)
	})
	handle(f, CmdRevokeAPIKey, func(tx *state.Tx, c RevokeAPIKey) (any, error) {
		k, err := tx.APIKey(c.ID)
		if err != nil || k.OrgID != c.OrgID {
			return nil, state.NotFound("api key %s", c.ID)
		}
		if k.RevokedAt == nil {
			at := c.At
			k.RevokedAt = &at
		}
		return nil, tx.PutAPIKey(k)
	})
	handle(f, CmdTouchAPIKey, func(tx *state.Tx, c TouchAPIKey) (any, error) {
		k, err := tx.APIKey(c.ID)
		if err != nil {
			return nil, err
		}
		if k.LastUsedAt != nil && !c.At.After(*k.LastUsedAt) {
			return nil, nil
		}
		at := c.At
		k.LastUsedAt = &at
		return nil, tx.PutAPIKey(k)
	})
}
