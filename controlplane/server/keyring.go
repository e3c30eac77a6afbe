package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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

// sealLegacySecrets seals, once, the plaintext secrets a state written
// before sealing existed still holds. The leader proposes the sealed
// values with a digest of the plaintext they replace; Apply swaps only
// values that still match, so nothing newer is overwritten.
func (s *Server) sealLegacySecrets(ctx context.Context) error {
	if len(s.keyring.IDs()) == 0 {
		return nil
	}
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
			if len(stored) == 0 || keyring.IsSealed(stored) {
				return nil, nil
			}
			v, err := s.keyring.Seal(purpose, plain)
			if err != nil {
				return nil, err
			}
			return &fsm.SealedValue{PlainDigest: state.PlainDigest(stored), Sealed: v}, nil
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
		keys, err := tx.AllSigningKeys()
		for _, k := range keys {
			if k.PrivatePEM == "" || keyring.IsSealed([]byte(k.PrivatePEM)) {
				continue
			}
			v, err := s.keyring.Seal(state.SealSigningKey, []byte(k.PrivatePEM))
			if err != nil {
				return err
			}
			cmd.SigningKeys = append(cmd.SigningKeys, fsm.SealedSigningKey{OrgID: k.OrgID, ID: k.ID,
				SealedValue: fsm.SealedValue{PlainDigest: state.PlainDigest([]byte(k.PrivatePEM)), Sealed: v}})
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("seal legacy secrets: %w", err)
	}
	if cmd.Empty() {
		return nil
	}
	var n int
	if err := s.node.ApplyInto(ctx, fsm.CmdSealSecrets, cmd, &n); err != nil {
		return fmt.Errorf("seal legacy secrets: %w", err)
	}
	s.log.Info("sealed the plaintext secrets of an older state with the cluster keyring", "secrets", n)
	return nil
}
