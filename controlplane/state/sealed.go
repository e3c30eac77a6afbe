package state

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/livestreams/livestreams/controlplane/keyring"
)

// Secrets in the state (Meta's CA key, stream-key secret and session
// secret; a kept signing key's private half; a retiring CA's key) are
// stored sealed with the cluster keyring (package keyring), which is
// never in the state: snapshots and the state file hold only sealed
// blobs. The rule that keeps Apply deterministic and keyring-free:
//
//   - proposers seal a secret before proposing the command that carries
//     it (the nonce is theirs);
//   - write transactions (the FSM applying a command) see and copy the
//     sealed blobs as they are, and never need the keyring;
//   - read transactions (View) see the plaintext: the getters open the
//     blobs with the store's keyring.
//
// A value written before sealing existed is plaintext and reads as it is.

// Purposes bind a sealed blob to its field (keyring additional data).
const (
	SealCAKey           = "ca_key"
	SealStreamKeySecret = "stream_key_secret"
	SealSessionSecret   = "session_secret"
	SealSigningKey      = "signing_key"
)

// SetKeyring gives the store the keyring its readers open secrets with.
func (s *Store) SetKeyring(k *keyring.Keyring) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kr = k
}

// open returns the plaintext of v in a read transaction and v itself in
// a write transaction.
func (t *Tx) open(purpose string, v []byte) ([]byte, error) {
	if t.tx.Writable() {
		return v, nil
	}
	return t.kr.Open(purpose, v)
}

func (t *Tx) openString(purpose, v string) (string, error) {
	b, err := t.open(purpose, []byte(v))
	return string(b), err
}

// openMeta opens Meta's secrets (see above).
func (t *Tx) openMeta(m *Meta) error {
	var err error
	if m.CAKeyPEM, err = t.openString(SealCAKey, m.CAKeyPEM); err != nil {
		return err
	}
	if m.StreamKeySecret, err = t.open(SealStreamKeySecret, m.StreamKeySecret); err != nil {
		return err
	}
	m.SessionSecret, err = t.open(SealSessionSecret, m.SessionSecret)
	return err
}

// Digest identifies a stored secret (plaintext or sealed) without
// revealing it: the command that seals it again carries it, so Apply
// replaces only the value it was computed from.
func Digest(v []byte) string {
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:])
}

// StoredMeta is the cluster meta as stored, its secrets sealed (or, in
// a state from before sealing, plaintext), in any transaction.
func (t *Tx) StoredMeta() (Meta, error) {
	var m Meta
	_, err := t.get(bMeta, metaKey, &m)
	return m, err
}
