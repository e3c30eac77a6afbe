package fsm

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Linked-account (OAuth) command types.
const (
	CmdStartOAuth          = "start_oauth"
	CmdConsumeOAuthState   = "consume_oauth_state"
	CmdLinkAccount         = "link_account"
	CmdUpdateAccountTokens = "update_account_tokens"
	CmdUnlinkAccount       = "unlink_account"
)

// maxPendingOAuth bounds an org's authorizations in flight, so repeated
// starts cannot grow the state (each lives 10 minutes).
const maxPendingOAuth = 20

// StartOAuth records an authorization in flight; the states that expired
// by At are dropped on the way, so abandoned ones do not pile up, and an
// org has at most maxPendingOAuth.
type StartOAuth struct {
	State state.OAuthState
	At    time.Time
}

// ConsumeOAuthState takes an authorization in flight out of the state:
// it answers the record (verifier sealed) once, and not_found to a
// replay, a forgery, an expired state or another provider's callback.
type ConsumeOAuthState struct {
	Hash, Provider string
	At             time.Time
}

// UpdateAccountTokens stores a refreshed token (sealed). A token that
// expires no later than the stored one is ignored: two nodes refreshing
// at once keep the newer.
type UpdateAccountTokens struct {
	OrgID, ID    string
	AccessToken  string
	RefreshToken string // "" keeps the stored one
	Expiry       time.Time
	At           time.Time
}

// UnlinkAccount forgets a linked account (its tokens were revoked by the
// proposer first).
type UnlinkAccount struct{ OrgID, ID string }

func (f *FSM) registerLinkedAccounts() {
	handle(f, CmdStartOAuth, func(tx *state.Tx, c StartOAuth) (any, error) {
		if _, err := tx.Org(c.State.OrgID); err != nil {
			return nil, err
		}
		if c.State.Hash == "" {
			return nil, state.Invalid("oauth state without a hash")
		}
		if err := tx.DeleteExpiredOAuthStates(c.At); err != nil {
			return nil, err
		}
		if n, err := tx.PendingOAuthStates(c.State.OrgID); err != nil {
			return nil, err
		} else if n >= maxPendingOAuth {
			return nil, state.Conflict("%d account links of the org are in progress: finish one or wait 10 minutes", n)
		}
		return nil, tx.PutOAuthState(c.State)
	})
	handle(f, CmdConsumeOAuthState, func(tx *state.Tx, c ConsumeOAuthState) (any, error) {
		s, err := tx.OAuthState(c.Hash)
		if err != nil {
			return nil, err
		}
		if s.Provider != c.Provider || !c.At.Before(s.ExpiresAt) {
			return nil, state.NotFound("oauth state")
		}
		return s, tx.DeleteOAuthState(c.Hash)
	})
	// LinkAccount stores an account; linking the same provider account
	// again in the org replaces its tokens and keeps its id (answered).
	handle(f, CmdLinkAccount, func(tx *state.Tx, a state.LinkedAccount) (any, error) {
		if _, err := tx.Org(a.OrgID); err != nil {
			return nil, err
		}
		accts, err := tx.LinkedAccounts(a.OrgID)
		if err != nil {
			return nil, err
		}
		for _, old := range accts {
			if old.Provider == a.Provider && old.AccountID == a.AccountID {
				a.ID, a.CreatedAt, a.CreatedBy = old.ID, old.CreatedAt, old.CreatedBy
				if a.RefreshToken == "" {
					a.RefreshToken = old.RefreshToken
				}
			}
		}
		return a, tx.PutLinkedAccount(a)
	})
	handle(f, CmdUpdateAccountTokens, func(tx *state.Tx, c UpdateAccountTokens) (any, error) {
		a, err := tx.LinkedAccount(c.OrgID, c.ID)
		if err != nil {
			return nil, err
		}
		if !c.Expiry.After(a.Expiry) {
			return nil, nil
		}
		a.AccessToken, a.Expiry, a.UpdatedAt = c.AccessToken, c.Expiry, c.At
		if c.RefreshToken != "" {
			a.RefreshToken = c.RefreshToken
		}
		return nil, tx.PutLinkedAccount(a)
	})
	handle(f, CmdUnlinkAccount, func(tx *state.Tx, c UnlinkAccount) (any, error) {
		if _, err := tx.LinkedAccount(c.OrgID, c.ID); err != nil {
			return nil, err
		}
		return nil, tx.DeleteLinkedAccount(c.OrgID, c.ID)
	})
}

// SealedAccountTokens are a linked account's tokens sealed again with
// the keyring's active key (SealSecrets); nil ones change nothing.
type SealedAccountTokens struct {
	OrgID, ID       string
	Access, Refresh *SealedValue
}

// resealAccounts swaps in the accounts' tokens sealed again, each only
// while the stored value is still the one it was computed from (a token
// refreshed meanwhile stays).
func resealAccounts(tx *state.Tx, accts []SealedAccountTokens, n *int) error {
	for _, s := range accts {
		a, err := tx.LinkedAccount(s.OrgID, s.ID)
		if state.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		before := *n
		a.AccessToken = string(s.Access.swap([]byte(a.AccessToken), n))
		a.RefreshToken = string(s.Refresh.swap([]byte(a.RefreshToken), n))
		if *n > before {
			if err := tx.PutLinkedAccount(a); err != nil {
				return err
			}
		}
	}
	return nil
}
