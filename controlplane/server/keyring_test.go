package server

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestSnapshotHoldsOnlySealedSecrets is the regression test of secrets in
// plain text in the Raft state: a snapshot (as `livestreams snapshot
// save` takes it), the state file and the Raft log hold none of the
// cluster's secrets nor a kept signing key's private half, only sealed
// blobs; the keyring lives beside them, 0600; restoring the snapshot on
// the cluster with its keyring gives back working secrets.
func TestSnapshotHoldsOnlySealedSecrets(t *testing.T) {
	srv, tok := startNode(t, 0)
	ctx := testutil.Context(t, 60*time.Second)
	c := apiClient(t, srv, tok)
	sk, err := c.SigningKeys().Create(ctx, client.SigningKeyCreate{})
	if err != nil {
		t.Fatal(err)
	}
	var m state.Meta
	if err := srv.node.Store().View(func(tx *state.Tx) error {
		var err error
		m, _, err = tx.Meta()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(m.StreamKeySecret) != 32 || len(m.SessionSecret) != 32 || !strings.Contains(m.CAKeyPEM, "PRIVATE KEY") {
		t.Fatalf("readers do not see the plaintext secrets: %d-byte stream key secret, %d-byte session secret", len(m.StreamKeySecret), len(m.SessionSecret))
	}
	pemBody := func(p string) string { // the longest base64 line of a PEM
		best := ""
		for _, l := range strings.Split(p, "\n") {
			if len(l) > len(best) && !strings.HasPrefix(l, "-----") {
				best = l
			}
		}
		return best
	}
	secrets := map[string][]byte{
		"stream key secret":            m.StreamKeySecret,
		"stream key secret (base64)":   []byte(base64.StdEncoding.EncodeToString(m.StreamKeySecret)),
		"session secret":               m.SessionSecret,
		"session secret (base64)":      []byte(base64.StdEncoding.EncodeToString(m.SessionSecret)),
		"CA private key":               []byte(pemBody(m.CAKeyPEM)),
		"kept signing key private PEM": []byte(pemBody(sk.PrivatePEM)),
	}

	rc, err := c.Cluster().Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(snap) == 0 {
		t.Fatalf("snapshot: %d bytes, %v", len(snap), err)
	}
	if !bytes.Contains(snap, []byte("lsk1:")) {
		t.Fatal("the snapshot holds no sealed value")
	}
	files := map[string][]byte{"snapshot": snap}
	for _, f := range []string{"state.db", "raft.db"} {
		if files[f], err = os.ReadFile(filepath.Join(srv.cfg.DataDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	for where, raw := range files {
		for what, secret := range secrets {
			if len(secret) < 16 {
				t.Fatalf("%s is too short to look for", what)
			}
			if bytes.Contains(raw, secret) {
				t.Errorf("the %s holds the %s in plain text", where, what)
			}
		}
	}
	fi, err := os.Stat(filepath.Join(srv.cfg.DataDir, keyring.FileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file: %v, mode %v", err, fi.Mode())
	}

	// Restore the snapshot on the cluster (with its keyring): logins and
	// token minting, which open the sealed secrets, work.
	if err := c.Cluster().Restore(ctx, func() (io.Reader, int64, error) {
		return bytes.NewReader(snap), int64(len(snap)), nil
	}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	login, err := apiClient(t, srv, "").Auth().Login(ctx, client.Login{Email: "o@example.com", Password: "a long passphrase"})
	if err != nil {
		t.Fatalf("log in after restore: %v", err)
	}
	c = apiClient(t, srv, login.Token)
	s, err := c.Streams().Create(ctx, client.StreamCreate{Name: "after restore"})
	if err != nil {
		t.Fatalf("create a stream after restore: %v", err)
	}
	ttl := int64(60)
	if _, err := c.SigningKeys().Mint(ctx, sk.ID, client.TokenMint{PlaybackID: s.PlaybackID, TTLSeconds: &ttl}); err != nil {
		t.Fatalf("mint with the kept signing key after restore: %v", err)
	}
}
