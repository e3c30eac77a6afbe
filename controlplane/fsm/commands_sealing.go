package fsm

import (
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/state"
)

// CmdSealSecrets replaces stored secrets with values sealed by the
// keyring's active key: the plaintext secrets of a state written before
// sealing existed, and after a keyring rotation the values an older key
// sealed (state/sealed.go).
const CmdSealSecrets = "seal_secrets"

// SealedValue is a secret sealed by the proposer, with the digest of the
// stored value (plaintext or sealed) it replaces.
type SealedValue struct {
	StoredDigest string
	Sealed       []byte
}

// SealedSigningKey is a kept signing key's private half, sealed.
type SealedSigningKey struct {
	OrgID, ID string
	SealedValue
}

// SealSecrets carries the sealed values of Meta's secrets and of kept
// signing keys; nil fields change nothing.
type SealSecrets struct {
	CAKey, StreamKeySecret, SessionSecret *SealedValue
	SigningKeys                           []SealedSigningKey
	LinkedAccounts                        []SealedAccountTokens
	Webhooks                              []SealedWebhookSecret
}

// Empty reports whether the command would seal nothing.
func (c SealSecrets) Empty() bool {
	return c.CAKey == nil && c.StreamKeySecret == nil && c.SessionSecret == nil && len(c.SigningKeys) == 0 && len(c.LinkedAccounts) == 0 && len(c.Webhooks) == 0
}

// swap returns v's sealed value when stored is still the value v was
// made to replace, else stored (something newer was written meanwhile).
func (v *SealedValue) swap(stored []byte, n *int) []byte {
	if v == nil || len(stored) == 0 || state.Digest(stored) != v.StoredDigest || !keyring.IsSealed(v.Sealed) {
		return stored
	}
	*n++
	return v.Sealed
}

func (f *FSM) registerSealing() {
	handle(f, CmdSealSecrets, func(tx *state.Tx, c SealSecrets) (any, error) {
		n := 0
		m, err := tx.StoredMeta()
		if err != nil {
			return nil, err
		}
		if m.ClusterID != "" {
			m.CAKeyPEM = string(c.CAKey.swap([]byte(m.CAKeyPEM), &n))
			m.StreamKeySecret = c.StreamKeySecret.swap(m.StreamKeySecret, &n)
			m.SessionSecret = c.SessionSecret.swap(m.SessionSecret, &n)
			if err := tx.PutMeta(m); err != nil {
				return nil, err
			}
		}
		for _, s := range c.SigningKeys {
			k, err := tx.SigningKey(s.OrgID, s.ID)
			if state.IsNotFound(err) {
				continue
			} else if err != nil {
				return nil, err
			}
			before := n
			k.PrivatePEM = string(s.swap([]byte(k.PrivatePEM), &n))
			if n > before {
				if err := tx.PutSigningKey(k); err != nil {
					return nil, err
				}
			}
		}
		if err := resealAccounts(tx, c.LinkedAccounts, &n); err != nil {
			return nil, err
		}
		if err := resealWebhooks(tx, c.Webhooks, &n); err != nil {
			return nil, err
		}
		return n, nil
	})
}
