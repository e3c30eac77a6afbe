package server

import (
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/controlplane/state"
)

// oauthService is the account linking of this node: the providers send
// the browser back to --public-url, or without one to the URL the start
// request came in by.
func (s *Server) oauthService() *oauth.Service {
	cfg := s.cfg.OAuth
	if cfg.PublicURL == "" {
		cfg.PublicURL = s.cfg.PublicURL
	}
	return oauth.New(cfg)
}

// sealAccounts seals again the linked accounts' tokens that the keyring's
// active key did not seal (resealSecrets).
func sealAccounts(tx *state.Tx, stale func([]byte) bool,
	seal func(purpose string, stored, plain []byte) (*fsm.SealedValue, error)) ([]fsm.SealedAccountTokens, error) {
	accts, err := tx.AllLinkedAccounts() // tokens as stored
	if err != nil {
		return nil, err
	}
	var out []fsm.SealedAccountTokens
	for _, a := range accts {
		if !stale([]byte(a.AccessToken)) && !stale([]byte(a.RefreshToken)) {
			continue
		}
		open, err := tx.LinkedAccount(a.OrgID, a.ID)
		if err != nil {
			return nil, err
		}
		s := fsm.SealedAccountTokens{OrgID: a.OrgID, ID: a.ID}
		if s.Access, err = seal(state.SealOAuthAccessToken, []byte(a.AccessToken), []byte(open.AccessToken)); err != nil {
			return nil, err
		}
		if s.Refresh, err = seal(state.SealOAuthRefreshToken, []byte(a.RefreshToken), []byte(open.RefreshToken)); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
