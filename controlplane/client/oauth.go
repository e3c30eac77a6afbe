package client

import (
	"context"
	"net/url"
	"time"
)

// OAuthStart is the start of linking an account: where to send the
// user's browser, and until when that link works.
type OAuthStart struct {
	Provider         string    `json:"provider"`
	AuthorizationURL string    `json:"authorization_url"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// LinkedAccount is an org's account at a streaming provider, linked
// through OAuth. Its tokens are never shown.
type LinkedAccount struct {
	ID          string   `json:"id"`
	OrgID       string   `json:"org_id"`
	Provider    string   `json:"provider"` // youtube or twitch
	AccountID   string   `json:"account_id"`
	AccountName string   `json:"account_name"`
	Scopes      []string `json:"scopes"`
	// TokenExpiresAt is when the current access token expires; it is
	// refreshed when used after that.
	TokenExpiresAt time.Time `json:"token_expires_at"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// RestreamFromAccount creates a restream target from a linked account:
// the provider gives the ingest URL and stream key.
type RestreamFromAccount struct {
	LinkedAccountID string `json:"linked_account_id"`
	Name            string `json:"name,omitempty"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
}

// LinkedAccounts are the org's OAuth-linked provider accounts.
type LinkedAccounts struct{ c *Client }

func (c *Client) LinkedAccounts() LinkedAccounts { return LinkedAccounts{c} }

// Start begins linking an account at provider (youtube or twitch): open
// the answer's AuthorizationURL in a browser signed in to that account.
func (l LinkedAccounts) Start(ctx context.Context, provider string) (OAuthStart, error) {
	var out OAuthStart
	return out, l.c.get(ctx, pathf("/v1/oauth/%s/start", provider), url.Values{}, &out)
}

// List lists the org's linked accounts.
func (l LinkedAccounts) List(ctx context.Context) ([]LinkedAccount, error) {
	var out List[LinkedAccount]
	return out.Items, l.c.get(ctx, "/v1/linked-accounts", nil, &out)
}

// Unlink revokes an account's tokens at its provider and forgets it.
func (l LinkedAccounts) Unlink(ctx context.Context, id string) error {
	return l.c.delete(ctx, pathf("/v1/linked-accounts/%s", id), nil)
}

// FromAccount creates a target from a linked account: its provider names
// the ingest URL and the stream key, which the control plane keeps sealed.
func (r RestreamTargets) FromAccount(ctx context.Context, in RestreamFromAccount) (RestreamTarget, error) {
	var out RestreamTarget
	return out, r.c.post(ctx, pathf("/v1/streams/%s/restream-targets/from-account", r.streamID), in, &out)
}
