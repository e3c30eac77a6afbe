package state

import "time"

// SigningKey is an org's playback-token key pair. PrivatePEM is kept only
// when the org asked the control plane to mint tokens for it.
type SigningKey struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"org_id"`
	PublicPEM  string     `json:"public_pem"`
	PrivatePEM string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

type signingKeyRecord struct {
	SigningKey
	StoredPrivate string `json:"private_pem,omitempty"`
}

// SigningKey returns one key of an org.
func (t *Tx) SigningKey(orgID, id string) (SigningKey, error) {
	var r signingKeyRecord
	ok, err := t.get(bSigningKeys, orgID+"/"+id, &r)
	if err == nil && !ok {
		err = NotFound("signing key %s", id)
	}
	r.SigningKey.PrivatePEM = r.StoredPrivate
	return r.SigningKey, err
}

// SigningKeys lists an org's keys, revoked ones included.
func (t *Tx) SigningKeys(orgID string) ([]SigningKey, error) {
	var out []SigningKey
	err := scan(t, bSigningKeys, orgID+"/", func(r signingKeyRecord) bool {
		r.SigningKey.PrivatePEM = r.StoredPrivate
		out = append(out, r.SigningKey)
		return true
	})
	return out, err
}

// PutSigningKey stores a key.
func (t *Tx) PutSigningKey(k SigningKey) error {
	return t.put(bSigningKeys, k.OrgID+"/"+k.ID, signingKeyRecord{SigningKey: k, StoredPrivate: k.PrivatePEM})
}
