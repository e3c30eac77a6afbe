package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestKeyringRotationSealsWebhookSecrets: a webhook's secret is stored
// sealed, never in plaintext, and after a keyring rotation the leader
// seals it again with the new key; it opens to the same secret.
func TestKeyringRotationSealsWebhookSecrets(t *testing.T) {
	srv, tok := startNode(t, 0)
	ctx := testutil.Context(t, 60*time.Second)
	w, err := apiClient(t, srv, tok).Webhooks().Create(ctx, client.WebhookCreate{URL: "https://hooks.example.com/in"})
	if err != nil {
		t.Fatal(err)
	}
	var org string
	stored := func() string {
		var s string
		srv.node.Store().View(func(tx *state.Tx) error {
			all, _ := tx.Webhooks("")
			for _, h := range all {
				if h.ID == w.ID {
					s, org = h.SecretSealed, h.OrgID
				}
			}
			return nil
		})
		return s
	}
	old := srv.keyring.ActiveID()
	if s := stored(); s == w.Secret || keyring.KeyID([]byte(s)) != old {
		t.Fatalf("the secret is stored as %q, not sealed by %s", s, old)
	}

	var out bytes.Buffer
	if code := RotateKeyring(srv.cfg.DataDir, &out, &out); code != 0 {
		t.Fatalf("rotate keyring: %d %s", code, out.String())
	}
	k, _, err := keyring.Load(srv.cfg.DataDir)
	if err != nil || k.ActiveID() == old {
		t.Fatalf("rotated keyring: %v, active %s", err, k.ActiveID())
	}
	testutil.Eventually(t, 15*time.Second, "the secret sealed with the new key", func() bool {
		return keyring.KeyID([]byte(stored())) == k.ActiveID()
	})
	err = srv.node.Store().View(func(tx *state.Tx) error {
		got, err := tx.Webhook(org, w.ID)
		if err == nil && got.SecretSealed != w.Secret {
			t.Errorf("after resealing the secret opens to %q", got.SecretSealed)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
