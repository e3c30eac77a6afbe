package state

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/keyring"
)

// TestRestreamKeySealed: the key is stored sealed; a read transaction
// opens it with the keyring, a write transaction never does.
func TestRestreamKeySealed(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kr, err := keyring.New()
	if err != nil {
		t.Fatal(err)
	}
	st.SetKeyring(kr)
	const key = "live_abcdefgh_12345678"
	sealed, err := kr.SealString(SealRestreamKey, key)
	if err != nil {
		t.Fatal(err)
	}
	r := RestreamTarget{ID: "rst_1", OrgID: "org_1", StreamID: "str_1", Name: "yt", Preset: PresetYouTube,
		URL: PresetURL(PresetYouTube), KeySealed: sealed, KeyLast4: Last4(key), CreatedAt: time.Unix(1e9, 0)}
	if err := r.Valid(); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(tx *Tx) error {
		if _, err := tx.RestreamKey(r); err == nil {
			t.Error("a write transaction opened the key")
		}
		return tx.PutRestreamTarget(r)
	}); err != nil {
		t.Fatal(err)
	}
	err = st.View(func(tx *Tx) error {
		got, err := tx.RestreamTarget("str_1", "rst_1")
		if err != nil {
			return err
		}
		if strings.Contains(got.KeySealed, key) || got.KeyLast4 != "5678" {
			t.Errorf("stored target %+v", got)
		}
		open, err := tx.RestreamKey(got)
		if err != nil || open != key {
			t.Errorf("opened key: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://x/app", "rtmp://user:pw@x/app", "rtmp:///app", ""} {
		if CheckRestreamURL(u) == nil {
			t.Errorf("url %q accepted", u)
		}
	}
}
