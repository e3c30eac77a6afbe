package state

import "time"

// Purposes of the sealed OAuth secrets (sealed.go).
const (
	SealOAuthAccessToken  = "oauth_access_token"
	SealOAuthRefreshToken = "oauth_refresh_token"
	SealOAuthVerifier     = "oauth_pkce_verifier"
)

// LinkedAccount is an org's account at a streaming provider (YouTube,
// Twitch) linked through OAuth: the control plane acts for it to create
// restream targets without anyone copying a stream key. Both tokens are
// stored sealed; the read getters open them, the list leaves them sealed.
type LinkedAccount struct {
	ID       string `json:"id"`
	OrgID    string `json:"org_id"`
	Provider string `json:"provider"`
	// AccountID and AccountName are the provider's: a YouTube channel id
	// and title, a Twitch user id and login.
	AccountID    string    `json:"account_id"`
	AccountName  string    `json:"account_name"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry"`
	Scopes       []string  `json:"scopes,omitempty"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// OAuthState is an authorization in flight: the state parameter's hash
// (the key), who started it and for which org, and the PKCE verifier
// (sealed). It is consumed once by the callback, on whichever node the
// provider sends the browser back to, and is worthless after ExpiresAt.
type OAuthState struct {
	Hash      string `json:"hash"`
	OrgID     string `json:"org_id"`
	Provider  string `json:"provider"`
	CreatedBy string `json:"created_by"`
	Verifier  string `json:"verifier"`
	// RedirectURI is the callback URI the authorization named; the
	// exchange must send the same.
	RedirectURI string    `json:"redirect_uri"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// LinkedAccount returns one account of an org, its tokens opened in a
// read transaction.
func (t *Tx) LinkedAccount(orgID, id string) (LinkedAccount, error) {
	var a LinkedAccount
	ok, err := t.get(bLinkedAccounts, orgID+"/"+id, &a)
	if err == nil && !ok {
		err = NotFound("linked account %s", id)
	}
	if err != nil {
		return a, err
	}
	if a.AccessToken, err = t.openString(SealOAuthAccessToken, a.AccessToken); err != nil {
		return a, err
	}
	a.RefreshToken, err = t.openString(SealOAuthRefreshToken, a.RefreshToken)
	return a, err
}

// LinkedAccounts lists an org's accounts, their tokens as stored (sealed):
// LinkedAccount opens one.
func (t *Tx) LinkedAccounts(orgID string) ([]LinkedAccount, error) {
	return list[LinkedAccount](t, bLinkedAccounts, orgID+"/")
}

// PutLinkedAccount stores an account.
func (t *Tx) PutLinkedAccount(a LinkedAccount) error {
	return t.put(bLinkedAccounts, a.OrgID+"/"+a.ID, a)
}

// DeleteLinkedAccount forgets an account.
func (t *Tx) DeleteLinkedAccount(orgID, id string) error {
	return t.del(bLinkedAccounts, orgID+"/"+id)
}

// DeleteOrgLinkedAccounts forgets the accounts of an org being deleted.
func (t *Tx) DeleteOrgLinkedAccounts(orgID string) error {
	accts, err := t.LinkedAccounts(orgID)
	if err != nil {
		return err
	}
	for _, a := range accts {
		if err := t.DeleteLinkedAccount(orgID, a.ID); err != nil {
			return err
		}
	}
	return nil
}

// OAuthState returns an authorization in flight by its state's hash, its
// verifier as stored (sealed).
func (t *Tx) OAuthState(hash string) (OAuthState, error) {
	var s OAuthState
	ok, err := t.get(bOAuthStates, hash, &s)
	if err == nil && !ok {
		err = NotFound("oauth state")
	}
	return s, err
}

// PendingOAuthStates counts an org's authorizations in flight.
func (t *Tx) PendingOAuthStates(orgID string) (int, error) {
	n := 0
	err := scan(t, bOAuthStates, "", func(s OAuthState) bool {
		if s.OrgID == orgID {
			n++
		}
		return true
	})
	return n, err
}

// PutOAuthState stores an authorization in flight.
func (t *Tx) PutOAuthState(s OAuthState) error { return t.put(bOAuthStates, s.Hash, s) }

// DeleteOAuthState forgets an authorization in flight.
func (t *Tx) DeleteOAuthState(hash string) error { return t.del(bOAuthStates, hash) }

// DeleteExpiredOAuthStates forgets the authorizations that expired at or
// before at.
func (t *Tx) DeleteExpiredOAuthStates(at time.Time) error {
	var expired []string
	err := scan(t, bOAuthStates, "", func(s OAuthState) bool {
		if !at.Before(s.ExpiresAt) {
			expired = append(expired, s.Hash)
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, h := range expired {
		if err := t.DeleteOAuthState(h); err != nil {
			return err
		}
	}
	return nil
}

// AllLinkedAccounts lists every org's accounts, their tokens as stored
// (the keyring rotation seals stale ones again).
func (t *Tx) AllLinkedAccounts() ([]LinkedAccount, error) {
	return list[LinkedAccount](t, bLinkedAccounts, "")
}
