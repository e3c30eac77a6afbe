package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/oauth2"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/controlplane/state"
)

// oauthStateTTL is how long a started link waits for its callback.
const oauthStateTTL = 10 * time.Minute

type oauthStartAnswer = client.OAuthStart

type linkedAccountView = client.LinkedAccount

type restreamFromAccountRequest = client.RestreamFromAccount

func viewLinkedAccount(a state.LinkedAccount) linkedAccountView {
	scopes := a.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return linkedAccountView{ID: a.ID, OrgID: a.OrgID, Provider: a.Provider, AccountID: a.AccountID, AccountName: a.AccountName,
		Scopes: scopes, TokenExpiresAt: a.Expiry, CreatedBy: a.CreatedBy, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// oauthError maps the oauth package's errors to answers; none carries a
// token or the provider's answer body.
func oauthError(err error) error {
	switch {
	case errors.Is(err, oauth.ErrUnknownProvider):
		return notFound("unknown provider: use youtube or twitch")
	case errors.Is(err, oauth.ErrNotConfigured):
		return errorf(codeUnavailable, "%v: the operator registered no OAuth app for it (--oauth-google-client-id, --oauth-twitch-client-id)", err)
	case errors.Is(err, oauth.ErrRefused):
		return invalid("%v", err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return errorf(codeUnavailable, "the provider did not answer in time")
	}
	var ae *apiError
	var se *state.Error
	if errors.As(err, &ae) || errors.As(err, &se) {
		return err
	}
	return errorf(codeUnavailable, "the provider could not be reached or failed: %v", err)
}

// oauthStart begins linking an account: a single-use state bound to the
// caller and its org, with the PKCE verifier, is stored through Raft (so
// the callback may reach any node) and the provider's consent URL is
// answered, or redirected to with ?redirect=1.
func (h *Handler) oauthStart(w http.ResponseWriter, r *http.Request) {
	p, provider := caller(r.Context()), chi.URLParam(r, "provider")
	secret, verifier := ids.Random(32), oauth.NewVerifier()
	redirect := h.cfg.OAuth.RedirectURI(provider, h.publicBase(r))
	authURL, err := h.cfg.OAuth.AuthURL(provider, secret, verifier, redirect)
	if err != nil {
		h.writeError(w, r, oauthError(err))
		return
	}
	sealed, err := h.seal(state.SealOAuthVerifier, verifier)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.now()
	st := state.OAuthState{Hash: state.Digest([]byte(secret)), OrgID: p.orgID, Provider: provider, CreatedBy: p.actorID(),
		Verifier: sealed, RedirectURI: redirect, CreatedAt: now, ExpiresAt: now.Add(oauthStateTTL)}
	if err := h.apply(r.Context(), fsm.CmdStartOAuth, fsm.StartOAuth{State: st, At: now}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	if r.URL.Query().Get("redirect") == "1" {
		http.Redirect(w, r, authURL, http.StatusFound)
		return
	}
	writeJSON(w, http.StatusOK, oauthStartAnswer{Provider: provider, AuthorizationURL: authURL, ExpiresAt: st.ExpiresAt})
}

// oauthCallback is where the provider sends the browser back: the state
// is consumed (once, on whichever node), the code is exchanged with its
// verifier, and the account is linked to the org that started.
func (h *Handler) oauthCallback(w http.ResponseWriter, r *http.Request) {
	provider, q := chi.URLParam(r, "provider"), r.URL.Query()
	if err := h.cfg.OAuth.Configured(provider); err != nil {
		h.writeError(w, r, oauthError(err))
		return
	}
	secret := q.Get("state")
	if secret == "" || len(secret) > 256 {
		h.writeError(w, r, invalid("the callback has no state: start linking again"))
		return
	}
	now := h.now()
	var st state.OAuthState
	err := h.apply(r.Context(), fsm.CmdConsumeOAuthState,
		fsm.ConsumeOAuthState{Hash: state.Digest([]byte(secret)), Provider: provider, At: now}, &st)
	if state.IsNotFound(err) {
		h.writeError(w, r, invalid("unknown, used or expired authorization state: start linking again"))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if e := q.Get("error"); e != "" {
		h.writeError(w, r, invalid("the provider did not grant access (%s)", truncate(e, 64)))
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		h.writeError(w, r, invalid("the callback has no code"))
		return
	}
	verifier, err := h.cfg.Keyring.OpenString(state.SealOAuthVerifier, st.Verifier)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tok, acct, err := h.cfg.OAuth.Exchange(r.Context(), provider, code, verifier, st.RedirectURI)
	if err != nil {
		h.log.Warn("oauth link refused", "provider", provider, "org_id", st.OrgID, "err", err)
		h.writeError(w, r, oauthError(err))
		return
	}
	a := state.LinkedAccount{ID: ids.New("lac"), OrgID: st.OrgID, Provider: provider, AccountID: acct.ID, AccountName: acct.Name,
		TokenType: tok.TokenType, Expiry: tok.Expiry.UTC(), Scopes: oauth.Scopes(tok), CreatedBy: st.CreatedBy, CreatedAt: now, UpdatedAt: now}
	if a.AccessToken, err = h.seal(state.SealOAuthAccessToken, tok.AccessToken); err != nil {
		h.writeError(w, r, err)
		return
	}
	if tok.RefreshToken != "" {
		if a.RefreshToken, err = h.seal(state.SealOAuthRefreshToken, tok.RefreshToken); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	var linked state.LinkedAccount
	if err := h.apply(r.Context(), fsm.CmdLinkAccount, a, &linked); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("account linked", "linked_account_id", linked.ID, "org_id", linked.OrgID, "provider", provider, "account_id", acct.ID)
	writeJSON(w, http.StatusOK, viewLinkedAccount(linked))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (h *Handler) listLinkedAccounts(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	var accts []state.LinkedAccount
	if err := h.view(func(tx *state.Tx) error {
		var err error
		accts, err = tx.LinkedAccounts(orgID)
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	sortByTime(accts, func(a state.LinkedAccount) (time.Time, string) { return a.CreatedAt, a.ID })
	out := make([]linkedAccountView, 0, len(accts))
	for _, a := range accts {
		out = append(out, viewLinkedAccount(a))
	}
	writeJSON(w, http.StatusOK, items(out))
}

// orgAccount reads a linked account of the caller's org, its tokens
// opened; other orgs' accounts are not found.
func (h *Handler) orgAccount(orgID, id string) (state.LinkedAccount, error) {
	var a state.LinkedAccount
	err := h.view(func(tx *state.Tx) error {
		var err error
		a, err = tx.LinkedAccount(orgID, id)
		return err
	})
	return a, err
}

// unlinkAccount revokes the account's tokens at the provider and forgets
// it. A provider that refuses the revocation (the user revoked access
// there already) does not keep the account; one that cannot be reached
// does, so the tokens are not left live without a record.
func (h *Handler) unlinkAccount(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	a, err := h.orgAccount(orgID, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	err = h.cfg.OAuth.Revoke(r.Context(), a.Provider, accountToken(a))
	switch {
	case errors.Is(err, oauth.ErrRefused):
		h.log.Warn("provider refused to revoke a token; unlinking anyway", "linked_account_id", a.ID, "provider", a.Provider, "err", err)
	case err != nil:
		h.writeError(w, r, oauthError(err))
		return
	}
	if err := h.apply(r.Context(), fsm.CmdUnlinkAccount, fsm.UnlinkAccount{OrgID: orgID, ID: id}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("account unlinked", "linked_account_id", a.ID, "org_id", orgID, "provider", a.Provider)
	w.WriteHeader(http.StatusNoContent)
}

func accountToken(a state.LinkedAccount) *oauth2.Token {
	return &oauth2.Token{AccessToken: a.AccessToken, RefreshToken: a.RefreshToken, TokenType: a.TokenType, Expiry: a.Expiry}
}

// freshToken returns a usable token of the account, refreshing an expired
// one and storing the refreshed token through Raft before it is used.
func (h *Handler) freshToken(ctx context.Context, a state.LinkedAccount) (*oauth2.Token, error) {
	tok, refreshed, err := h.cfg.OAuth.Fresh(ctx, a.Provider, accountToken(a))
	if err != nil || !refreshed {
		return tok, err
	}
	c := fsm.UpdateAccountTokens{OrgID: a.OrgID, ID: a.ID, Expiry: tok.Expiry.UTC(), At: h.now()}
	if c.AccessToken, err = h.seal(state.SealOAuthAccessToken, tok.AccessToken); err != nil {
		return nil, err
	}
	if tok.RefreshToken != "" && tok.RefreshToken != a.RefreshToken {
		if c.RefreshToken, err = h.seal(state.SealOAuthRefreshToken, tok.RefreshToken); err != nil {
			return nil, err
		}
	}
	if err := h.apply(ctx, fsm.CmdUpdateAccountTokens, c, nil); err != nil {
		return nil, err
	}
	h.log.Info("linked account token refreshed", "linked_account_id", a.ID, "provider", a.Provider)
	return tok, nil
}

// restreamFromAccount creates a restream target of a stream from a linked
// account: the provider names the ingest URL and stream key (YouTube: a
// new liveStream bound to a broadcast; Twitch: the channel's key), the
// key is sealed and never answered.
func (h *Handler) restreamFromAccount(w http.ResponseWriter, r *http.Request) {
	orgID, streamID := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var in restreamFromAccountRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.LinkedAccountID == "" {
		h.writeError(w, r, invalid("linked_account_id is required"))
		return
	}
	var s state.Stream
	if err := h.view(func(tx *state.Tx) error {
		var err error
		s, err = orgStream(tx, orgID, streamID)
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	a, err := h.orgAccount(orgID, in.LinkedAccountID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = a.Provider + " " + a.AccountName
	}
	tok, err := h.freshToken(r.Context(), a)
	if err != nil {
		h.writeError(w, r, oauthError(err))
		return
	}
	ing, err := h.cfg.OAuth.Ingest(r.Context(), a.Provider, tok, s.Name)
	if err != nil {
		h.writeError(w, r, oauthError(err))
		return
	}
	now := h.now()
	t := state.RestreamTarget{ID: ids.New("rst"), OrgID: orgID, StreamID: streamID, Name: name, Preset: a.Provider, URL: ing.URL,
		KeyLast4: state.Last4(ing.Key), Enabled: in.Enabled == nil || *in.Enabled, LinkedAccountID: a.ID, CreatedAt: now, UpdatedAt: now}
	if t.KeySealed, err = h.seal(state.SealRestreamKey, ing.Key); err != nil {
		h.writeError(w, r, err)
		return
	}
	var made state.RestreamTarget
	if err := h.apply(r.Context(), fsm.CmdCreateRestreamTarget, fsm.CreateRestreamTarget{Target: t}, &made); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("restream target created from a linked account", "restream_target_id", made.ID, "stream_id", streamID,
		"linked_account_id", a.ID, "provider", a.Provider)
	writeJSON(w, http.StatusCreated, viewRestreamTarget(made))
}
