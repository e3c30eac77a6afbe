package fsm_test

import (
	"bytes"
	"testing"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/state"
)

// TestPlaintextStateIsSealedInPlace: a state written before sealing (its
// secrets in plain text) still loads, and the migration command seals
// each secret in place, readers seeing the same plaintext before and
// after; Apply needs no keyring (a store without one applies the same
// log to the same bytes) and a stale migration changes nothing.
func TestPlaintextStateIsSealedInPlace(t *testing.T) {
	kr, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t)
	m.store.SetKeyring(kr)
	plain := state.Meta{ClusterID: "cls_1", CreatedAt: t0, CACertPEM: "cert", CAKeyPEM: "-----BEGIN EC PRIVATE KEY-----\nca key\n-----END EC PRIVATE KEY-----\n",
		StreamKeySecret: bytes.Repeat([]byte{1}, 32), SessionSecret: bytes.Repeat([]byte{2}, 32)}
	if err := m.do(fsm.CmdInitCluster, fsm.InitCluster{Meta: plain}, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.do(fsm.CmdCreateOrg, fsm.CreateOrg{Org: state.Org{ID: "org_1", Name: "o", CreatedAt: t0}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.do(fsm.CmdCreateSigningKey, state.SigningKey{ID: "sig_1", OrgID: "org_1", PublicPEM: "pub", PrivatePEM: "private pem", CreatedAt: t0}, nil); err != nil {
		t.Fatal(err)
	}
	read := func() (state.Meta, state.SigningKey) {
		var got state.Meta
		var sk state.SigningKey
		if err := m.store.View(func(tx *state.Tx) error {
			var err error
			if got, _, err = tx.Meta(); err != nil {
				return err
			}
			sk, err = tx.SigningKey("org_1", "sig_1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got, sk
	}
	check := func(when string) {
		got, sk := read()
		if got.CAKeyPEM != plain.CAKeyPEM || !bytes.Equal(got.StreamKeySecret, plain.StreamKeySecret) ||
			!bytes.Equal(got.SessionSecret, plain.SessionSecret) || sk.PrivatePEM != "private pem" {
			t.Fatalf("%s: readers see %+v / %q", when, got, sk.PrivatePEM)
		}
	}
	check("a plaintext state")

	seal := func(purpose string, v []byte) *fsm.SealedValue {
		s, err := kr.Seal(purpose, v)
		if err != nil {
			t.Fatal(err)
		}
		return &fsm.SealedValue{StoredDigest: state.Digest(v), Sealed: s}
	}
	stale := fsm.SealSecrets{SessionSecret: &fsm.SealedValue{StoredDigest: state.Digest([]byte("another")), Sealed: seal(state.SealSessionSecret, []byte("another")).Sealed}}
	var n int
	if err := m.do(fsm.CmdSealSecrets, stale, &n); err != nil || n != 0 {
		t.Fatalf("a migration of another value sealed %d (%v)", n, err)
	}
	cmd := fsm.SealSecrets{CAKey: seal(state.SealCAKey, []byte(plain.CAKeyPEM)),
		StreamKeySecret: seal(state.SealStreamKeySecret, plain.StreamKeySecret),
		SessionSecret:   seal(state.SealSessionSecret, plain.SessionSecret),
		SigningKeys: []fsm.SealedSigningKey{{OrgID: "org_1", ID: "sig_1",
			SealedValue: *seal(state.SealSigningKey, []byte("private pem"))}}}
	if err := m.do(fsm.CmdSealSecrets, cmd, &n); err != nil || n != 4 {
		t.Fatalf("migration sealed %d secrets (%v), want 4", n, err)
	}
	check("a sealed state")
	var snap bytes.Buffer
	if _, err := m.store.WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	for _, secret := range [][]byte{[]byte("ca key"), []byte("private pem"), []byte("AQEBAQEBAQEBAQEB"), []byte("AgICAgICAgICAgIC")} {
		if bytes.Contains(snap.Bytes(), secret) {
			t.Errorf("the sealed state still holds %q", secret)
		}
	}

	// Another node without a keyring applies the same log to the same
	// sealed values.
	other := newMachine(t)
	for _, e := range m.log {
		other.applyRaw(e)
	}
	var a, b state.Meta
	m.store.Update(func(tx *state.Tx) error { a, err = tx.StoredMeta(); return err })
	other.store.Update(func(tx *state.Tx) error { b, err = tx.StoredMeta(); return err })
	if !bytes.Equal(a.SessionSecret, b.SessionSecret) || a.CAKeyPEM != b.CAKeyPEM || !keyring.IsSealed(b.SessionSecret) {
		t.Fatalf("replayed state differs or is not sealed: %q vs %q", a.SessionSecret, b.SessionSecret)
	}
	if err := other.store.View(func(tx *state.Tx) error { _, _, err := tx.Meta(); return err }); err == nil {
		t.Fatal("a node without the keyring read sealed secrets")
	}
}
