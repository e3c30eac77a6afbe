package state

import "time"

// JoinToken authorizes one edge to join, once, before ExpiresAt; only the
// secret's hash is stored.
type JoinToken struct {
	ID            string     `json:"id"`
	SecretHash    string     `json:"secret_hash"`
	CAFingerprint string     `json:"ca_fingerprint"`
	Description   string     `json:"description,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at,omitzero"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	// UsedAt and UsedBy say when and by which edge node id the token was
	// spent; a used token joins nothing again.
	UsedAt *time.Time `json:"used_at,omitempty"`
	UsedBy string     `json:"used_by,omitempty"`
}

// Usable reports why the token cannot join an edge at now ("" if it can).
func (j JoinToken) Usable(now time.Time) string {
	switch {
	case j.RevokedAt != nil:
		return "join token was revoked"
	case j.UsedAt != nil:
		return "join token was already used (join tokens are single-use; create another with `livestreams cluster join-token`)"
	case !j.ExpiresAt.IsZero() && !now.Before(j.ExpiresAt):
		return "join token expired"
	}
	return ""
}

// JoinToken returns one join token.
func (t *Tx) JoinToken(id string) (JoinToken, error) {
	var j JoinToken
	ok, err := t.get(bJoinTokens, id, &j)
	if err == nil && !ok {
		err = NotFound("join token %s", id)
	}
	return j, err
}

// JoinTokens lists join tokens.
func (t *Tx) JoinTokens() ([]JoinToken, error) { return list[JoinToken](t, bJoinTokens, "") }

// PutJoinToken stores a join token.
func (t *Tx) PutJoinToken(j JoinToken) error { return t.put(bJoinTokens, j.ID, j) }
