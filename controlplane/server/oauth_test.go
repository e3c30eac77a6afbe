package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestKeyringRotationSealsLinkedAccounts: after a keyring rotation the
// leader seals a linked account's tokens again with the new key, and they
// open to the same values.
func TestKeyringRotationSealsLinkedAccounts(t *testing.T) {
	srv, tok := startNode(t, 0)
	ctx := testutil.Context(t, 60*time.Second)
	orgs, err := apiClient(t, srv, tok).Orgs().List(ctx)
	if err != nil || len(orgs) != 1 {
		t.Fatalf("orgs %v, %v", orgs, err)
	}
	const access, refresh = "access-token-sealed-by-the-old-key", "refresh-token-sealed-by-the-old-key"
	a := state.LinkedAccount{ID: "lac_rotate", OrgID: orgs[0].ID, Provider: "twitch", AccountID: "1", AccountName: "n",
		Expiry: time.Now().Add(time.Hour).UTC(), CreatedBy: "u", CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if a.AccessToken, err = srv.keyring.SealString(state.SealOAuthAccessToken, access); err != nil {
		t.Fatal(err)
	}
	if a.RefreshToken, err = srv.keyring.SealString(state.SealOAuthRefreshToken, refresh); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.node.Apply(ctx, fsm.CmdLinkAccount, a); err != nil {
		t.Fatal(err)
	}
	old := srv.keyring.ActiveID()

	var out bytes.Buffer
	if code := RotateKeyring(srv.cfg.DataDir, &out, &out); code != 0 {
		t.Fatalf("rotate keyring: %d %s", code, out.String())
	}
	k, _, err := keyring.Load(srv.cfg.DataDir)
	if err != nil || k.ActiveID() == old {
		t.Fatalf("rotated keyring: %v, active %s", err, k.ActiveID())
	}
	testutil.Eventually(t, 15*time.Second, "the tokens sealed with the new key", func() bool {
		ok := false
		srv.node.Store().View(func(tx *state.Tx) error {
			all, _ := tx.AllLinkedAccounts()
			for _, s := range all {
				if s.ID == a.ID {
					ok = keyring.KeyID([]byte(s.AccessToken)) == k.ActiveID() && keyring.KeyID([]byte(s.RefreshToken)) == k.ActiveID()
				}
			}
			return nil
		})
		return ok
	})
	err = srv.node.Store().View(func(tx *state.Tx) error {
		got, err := tx.LinkedAccount(a.OrgID, a.ID)
		if err == nil && (got.AccessToken != access || got.RefreshToken != refresh) {
			t.Errorf("after resealing the tokens open to %q and %q", got.AccessToken, got.RefreshToken)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
