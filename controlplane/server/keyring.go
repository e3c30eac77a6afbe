package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/state"
)

// openKeyring returns this node's cluster keyring (keyring.json in the
// data dir). A bootstrapping node without one makes it; any other node
// starts with an empty one and receives the cluster's when it joins.
func openKeyring(cfg Config) (*keyring.Keyring, error) {
	k, ok, err := keyring.Load(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(cfg.DataDir, keyring.FileName), err)
	}
	if ok {
		return k, nil
	}
	if !cfg.Bootstrap {
		return &keyring.Keyring{}, nil
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "state.db")); err == nil {
		// Existing state without a keyring: from before sealing (its
		// plaintext secrets are sealed once this node leads), or a lost
		// keyring (its sealed secrets cannot be read; restore the file).
		cfg.Logger.Warn("no cluster keyring in the data dir; making a new one", "file", keyring.FileName)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if k, err = keyring.New(); err != nil {
		return nil, err
	}
	if err := k.Save(cfg.DataDir); err != nil {
		return nil, err
	}
	return k, nil
}

// sealMeta seals a new cluster meta's secrets before it is proposed.
func sealMeta(k *keyring.Keyring, m *state.Meta) error {
	var err error
	if m.CAKeyPEM, err = k.SealString(state.SealCAKey, m.CAKeyPEM); err != nil {
		return err
	}
	if m.StreamKeySecret, err = k.Seal(state.SealStreamKeySecret, m.StreamKeySecret); err != nil {
		return err
	}
	m.SessionSecret, err = k.Seal(state.SealSessionSecret, m.SessionSecret)
	return err
}

// resealSecrets seals again every stored secret the keyring's active key
// did not seal: the plaintext secrets of a state written before sealing
// existed, and after a keyring rotation the values an older key sealed.
// The leader proposes the sealed values with a digest of what they
// replace; Apply swaps only values that still match, so nothing newer is
// overwritten.
func (s *Server) resealSecrets(ctx context.Context) error {
	active := s.keyring.ActiveID()
	if active == "" {
		return nil
	}
	stale := func(stored []byte) bool { return len(stored) > 0 && keyring.KeyID(stored) != active }
	var cmd fsm.SealSecrets
	err := s.node.Store().View(func(tx *state.Tx) error {
		m, ok, err := tx.Meta()
		if err != nil || !ok {
			return err
		}
		raw, err := tx.StoredMeta()
		if err != nil {
			return err
		}
		seal := func(purpose string, stored, plain []byte) (*fsm.SealedValue, error) {
			if !stale(stored) {
				return nil, nil
			}
			v, err := s.keyring.Seal(purpose, plain)
			if err != nil {
				return nil, err
			}
			return &fsm.SealedValue{StoredDigest: state.Digest(stored), Sealed: v}, nil
		}
		if cmd.CAKey, err = seal(state.SealCAKey, []byte(raw.CAKeyPEM), []byte(m.CAKeyPEM)); err != nil {
			return err
		}
		if cmd.StreamKeySecret, err = seal(state.SealStreamKeySecret, raw.StreamKeySecret, m.StreamKeySecret); err != nil {
			return err
		}
		if cmd.SessionSecret, err = seal(state.SealSessionSecret, raw.SessionSecret, m.SessionSecret); err != nil {
			return err
		}
		keys, err := tx.AllSigningKeys() // private halves as stored
		if err != nil {
			return err
		}
		for _, k := range keys {
			if !stale([]byte(k.PrivatePEM)) {
				continue
			}
			open, err := tx.SigningKey(k.OrgID, k.ID)
			if err != nil {
				return err
			}
			v, err := seal(state.SealSigningKey, []byte(k.PrivatePEM), []byte(open.PrivatePEM))
			if err != nil {
				return err
			}
			cmd.SigningKeys = append(cmd.SigningKeys, fsm.SealedSigningKey{OrgID: k.OrgID, ID: k.ID, SealedValue: *v})
		}
		if cmd.LinkedAccounts, err = sealAccounts(tx, stale, seal); err != nil {
			return err
		}
		cmd.Webhooks, err = sealWebhooks(tx, stale, seal)
		return err
	})
	if err != nil {
		return fmt.Errorf("seal secrets with key %s: %w", active, err)
	}
	if cmd.Empty() {
		return nil
	}
	var n int
	if err := s.node.ApplyInto(ctx, fsm.CmdSealSecrets, cmd, &n); err != nil {
		return fmt.Errorf("seal secrets with key %s: %w", active, err)
	}
	s.log.Info("sealed secrets with the keyring's active key", "key_id", active, "secrets", n)
	return nil
}

// keyringStamp identifies a version of the keyring file.
type keyringStamp struct {
	mod  time.Time
	size int64
}

// reloadKeyring takes keyring.json again when the file changed (a rotated
// keyring copied in from another node). It reports whether it did.
func (s *Server) reloadKeyring() bool {
	fi, err := os.Stat(filepath.Join(s.cfg.DataDir, keyring.FileName))
	if err != nil {
		return false
	}
	stamp := keyringStamp{fi.ModTime(), fi.Size()}
	if stamp == s.keyringSeen {
		return false
	}
	first := s.keyringSeen == keyringStamp{}
	s.keyringSeen = stamp
	k, ok, err := keyring.Load(s.cfg.DataDir)
	if err != nil || !ok {
		s.log.Warn("reload the cluster keyring", "err", err)
		return false
	}
	if first && k.ActiveID() == s.keyring.ActiveID() && len(k.IDs()) == len(s.keyring.IDs()) {
		return false
	}
	s.keyring.Replace(k)
	s.log.Info("reloaded the cluster keyring", "active_key", k.ActiveID(), "keys", len(k.IDs()))
	return true
}

// RotateKeyring runs `livestreams control --rotate-keyring`: it adds a key
// to the keyring in dataDir (the older keys stay, to open what they
// sealed) and says how to spread it.
func RotateKeyring(dataDir string, stdout, stderr io.Writer) int {
	if dataDir == "" {
		fmt.Fprintln(stderr, "Error: --data-dir (LIVESTREAMS_DATA_DIR): required")
		return 2
	}
	k, ok, err := keyring.Load(dataDir)
	if err == nil && !ok {
		err = fmt.Errorf("no %s in %s", keyring.FileName, dataDir)
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	id, err := k.Rotate()
	if err == nil {
		err = k.Save(dataDir)
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	fmt.Fprintf(stdout, `Added key %s to %s; it seals from now on (older keys still open what they sealed).
Copy this file to the data dir of every other control node, the leader last: each
node takes it within a second, and the leader then seals every secret again with
the new key. Back up the new file.
`, id, filepath.Join(dataDir, keyring.FileName))
	return 0
}
