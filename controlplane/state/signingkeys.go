package state

import "time"

// SigningKey is an org's playback-token key pair. PrivatePEM is kept only
// when the org asked the control plane to mint tokens for it, sealed
// (sealed.go).
type SigningKey struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"org_id"`
	PublicPEM  string     `json:"public_pem"`
	PrivatePEM string     `json:"private_pem,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// SigningKey returns one key of an org.
func (t *Tx) SigningKey(orgID, id string) (SigningKey, error) {
	var k SigningKey
	ok, err := t.get(bSigningKeys, orgID+"/"+id, &k)
	if err == nil && !ok {
		err = NotFound("signing key %s", id)
	}
	if err == nil {
		k.PrivatePEM, err = t.openString(SealSigningKey, k.PrivatePEM)
	}
	return k, err
}

// SigningKeys lists an org's keys, revoked ones included. Their private
// halves stay as stored (sealed): SigningKey opens one.
func (t *Tx) SigningKeys(orgID string) ([]SigningKey, error) {
	return list[SigningKey](t, bSigningKeys, orgID+"/")
}

// PutSigningKey stores a key.
func (t *Tx) PutSigningKey(k SigningKey) error {
	return t.put(bSigningKeys, k.OrgID+"/"+k.ID, k)
}

// AllSigningKeys lists every org's keys, revoked ones included (what
// edges are told, so a revocation reaches them all).
func (t *Tx) AllSigningKeys() ([]SigningKey, error) { return list[SigningKey](t, bSigningKeys, "") }
