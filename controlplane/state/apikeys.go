package state

import (
	"strings"
	"time"
)

// APIKey is an org-scoped credential `lsk_…`; only its hash is stored.
// State types are storage types and serialize every field; the API shows
// its own views of them.
type APIKey struct {
	ID     string `json:"id"`
	OrgID  string `json:"org_id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"` // first characters, to recognise it in a list
	Hash   string `json:"hash"`
	Role   Role   `json:"role"`
	// ClusterAdmin keys (created by a cluster admin) may run cluster-wide
	// operations too.
	ClusterAdmin bool   `json:"cluster_admin,omitempty"`
	CreatedBy    string `json:"created_by,omitempty"`
	// CreatorUserID is the user on whose authority the key exists: its
	// creator, or the creator of the key that created it. The key's power
	// is at most that user's current role in the org, and the key dies
	// when they leave it.
	CreatorUserID string     `json:"creator_user_id,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	LastUsedAt    *time.Time `json:"last_used_at,omitempty"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
}

// APIKey returns one key.
func (t *Tx) APIKey(id string) (APIKey, error) {
	var k APIKey
	ok, err := t.get(bAPIKeys, id, &k)
	if err == nil && !ok {
		err = NotFound("api key %s", id)
	}
	return k, err
}

// APIKeyByHash finds a key by the hash of its secret.
func (t *Tx) APIKeyByHash(hash string) (APIKey, error) {
	id := t.getString(bAPIKeyHash, hash)
	if id == "" {
		return APIKey{}, NotFound("api key")
	}
	return t.APIKey(id)
}

// APIKeys lists an org's keys.
func (t *Tx) APIKeys(orgID string) ([]APIKey, error) {
	var out []APIKey
	err := scan(t, bAPIKeys, "", func(k APIKey) bool {
		if k.OrgID == orgID {
			out = append(out, k)
		}
		return true
	})
	return out, err
}

// PutAPIKey stores a key and its hash index.
func (t *Tx) PutAPIKey(k APIKey) error {
	if err := t.putString(bAPIKeyHash, k.Hash, k.ID); err != nil {
		return err
	}
	return t.put(bAPIKeys, k.ID, k)
}

// Creator is the user the key's power derives from: CreatorUserID, or for
// a key made before that field existed the user who created it (when a
// user did). "" for an older key created by a key.
func (k APIKey) Creator() string {
	if k.CreatorUserID != "" {
		return k.CreatorUserID
	}
	if strings.HasPrefix(k.CreatedBy, "usr_") {
		return k.CreatedBy
	}
	return ""
}

// RevokeCreatorKeys revokes, at at, the unrevoked keys of org whose power
// derives from userID (they are leaving it).
func (t *Tx) RevokeCreatorKeys(orgID, userID string, at time.Time) error {
	keys, err := t.APIKeys(orgID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.RevokedAt != nil || k.Creator() != userID {
			continue
		}
		revoked := at
		k.RevokedAt = &revoked
		if err := t.PutAPIKey(k); err != nil {
			return err
		}
	}
	return nil
}
