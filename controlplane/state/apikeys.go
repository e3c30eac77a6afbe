package state

import "time"

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
	ClusterAdmin bool       `json:"cluster_admin,omitempty"`
	CreatedBy    string     `json:"created_by,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
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
