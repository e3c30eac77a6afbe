package server

import (
	"bytes"
	"context"
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
	const srtPassphrase = "an srt passphrase in the state"
	if _, err := c.Streams().Create(ctx, client.StreamCreate{Name: "encrypted", SRTPassphrase: srtPassphrase}); err != nil {
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
		"stream's SRT passphrase":      []byte(srtPassphrase),
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

	// Rotating the keyring: the node takes the changed file and, leading,
	// seals every secret again with the new key; everything still works.
	var out bytes.Buffer
	if code := RotateKeyring(srv.cfg.DataDir, &out, &out); code != 0 {
		t.Fatalf("rotate keyring: %d %s", code, out.String())
	}
	k, _, err := keyring.Load(srv.cfg.DataDir)
	if err != nil || len(k.IDs()) != 2 {
		t.Fatalf("rotated keyring: %v %v", err, k.IDs())
	}
	testutil.Eventually(t, 15*time.Second, "every secret sealed with the new key", func() bool {
		var stale int
		srv.node.Store().View(func(tx *state.Tx) error {
			raw, _ := tx.StoredMeta()
			for _, v := range [][]byte{raw.StreamKeySecret, raw.SessionSecret, []byte(raw.CAKeyPEM)} {
				if keyring.KeyID(v) != k.ActiveID() {
					stale++
				}
			}
			keys, _ := tx.AllSigningKeys()
			for _, sk := range keys {
				if sk.PrivatePEM != "" && keyring.KeyID([]byte(sk.PrivatePEM)) != k.ActiveID() {
					stale++
				}
			}
			return nil
		})
		return stale == 0
	})
	if _, err := apiClient(t, srv, "").Auth().Login(ctx, client.Login{Email: "o@example.com", Password: "a long passphrase"}); err != nil {
		t.Fatalf("log in after the keyring rotation: %v", err)
	}
	if _, err := c.SigningKeys().Mint(ctx, sk.ID, client.TokenMint{PlaybackID: s.PlaybackID, TTLSeconds: &ttl}); err != nil {
		t.Fatalf("mint after the keyring rotation: %v", err)
	}
}

// TestJoiningNodeReceivesTheKeyring: a node joining with the cluster key
// gets the keyring in the join answer, keeps it in its data dir (0600)
// and reads the sealed secrets: a session token from the first node is
// good on it, and a login through it works.
func TestJoiningNodeReceivesTheKeyring(t *testing.T) {
	first, tok := startNode(t, 0)
	dir := t.TempDir()
	second, err := New(Config{NodeID: "cp2", DataDir: dir, HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		Join: first.URL(), ClusterKey: "edges-test-key"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- second.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("second node did not stop")
		}
	})
	want, _, _ := keyring.Load(first.cfg.DataDir)
	testutil.Eventually(t, 30*time.Second, "the joined node holds the keyring", func() bool {
		k, ok, _ := keyring.Load(dir)
		return ok && k.ActiveID() == want.ActiveID()
	})
	if fi, err := os.Stat(filepath.Join(dir, keyring.FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the joined node's keyring file: %v %v", err, fi.Mode())
	}
	tctx := testutil.Context(t, 30*time.Second)
	testutil.Eventually(t, 20*time.Second, "the first node's session token works on the second", func() bool {
		_, err := apiClient(t, second, tok).Streams().List(tctx)
		return err == nil
	})
	if _, err := apiClient(t, second, "").Auth().Login(tctx, client.Login{Email: "o@example.com", Password: "a long passphrase"}); err != nil {
		t.Fatalf("log in through the joined node: %v", err)
	}
}
