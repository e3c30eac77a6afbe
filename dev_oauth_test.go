package main

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/controlplane/oauth/oauthtest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestDevAccountLinking runs account linking through `livestreams dev`'s
// assembly (its OAuth settings reach the API, the keyring seals) against
// the loopback provider: link Twitch by following the redirect chain,
// make a restream target from the account, unlink.
func TestDevAccountLinking(t *testing.T) {
	t.Parallel()
	fake := oauthtest.Start(t)
	c := startDevWith(t, func(cfg *devConfig) { cfg.OAuth = fake.Config() })
	ctx := testutil.Context(t, 60*time.Second)

	start, err := c.API.LinkedAccounts().Start(ctx, oauth.Twitch)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(start.AuthorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the redirect chain ended with %d %s", resp.StatusCode, body)
	}
	accts, err := c.API.LinkedAccounts().List(ctx)
	if err != nil || len(accts) != 1 || accts[0].AccountID != oauthtest.TwitchID {
		t.Fatalf("linked accounts %+v, %v", accts, err)
	}

	s := newStream(t, c, client.StreamCreate{Name: "linked"})
	tgt, err := c.API.RestreamTargets(s.ID).FromAccount(ctx, client.RestreamFromAccount{LinkedAccountID: accts[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	key := fake.StreamKey(oauth.Twitch)
	if tgt.URL != oauth.TwitchIngestURL || !tgt.KeySet || tgt.KeyLast4 != key[len(key)-4:] || tgt.LinkedAccountID != accts[0].ID {
		t.Fatalf("target %+v", tgt)
	}

	if err := c.API.LinkedAccounts().Unlink(ctx, accts[0].ID); err != nil {
		t.Fatal(err)
	}
	if n := fake.RevokedCount(oauth.Twitch); n != 1 {
		t.Fatalf("%d tokens revoked", n)
	}
	if accts, err := c.API.LinkedAccounts().List(ctx); err != nil || len(accts) != 0 {
		t.Fatalf("after unlinking: %+v, %v", accts, err)
	}
}
