package keyring

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := New()
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("a secret of 32 bytes, or so.....")
	a, err := k.Seal("session_secret", secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.Seal("session_secret", secret)
	if !IsSealed(a) || bytes.Contains(a, secret) || bytes.Equal(a, b) {
		t.Fatalf("sealed %q (twice: %q)", a, b)
	}
	if got, err := k.Open("session_secret", a); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := k.Open("ca_key", a); err == nil {
		t.Fatal("a blob opened for another purpose")
	}
	tampered := bytes.Clone(a)
	tampered[len(tampered)-2] ^= 'A' ^ 'B'
	if _, err := k.Open("session_secret", tampered); err == nil {
		t.Fatal("a tampered blob opened")
	}
	if got, err := k.Open("session_secret", []byte("plain")); err != nil || string(got) != "plain" {
		t.Fatalf("a plaintext value from before sealing: %q, %v", got, err)
	}
	var none *Keyring
	if _, err := none.Open("session_secret", a); err != ErrNoKeyring {
		t.Fatalf("no keyring: %v", err)
	}
	if _, err := (&Keyring{}).Open("session_secret", a); err != ErrNoKeyring {
		t.Fatalf("empty keyring: %v", err)
	}
	other, _ := New()
	if _, err := other.Open("session_secret", a); err == nil || !strings.Contains(err.Error(), "lacks") {
		t.Fatalf("another keyring: %v", err)
	}

	// Rotation: the new key seals, the old one still opens.
	old := k.IDs()[0]
	newID, err := k.Rotate()
	if err != nil || newID == old || k.IDs()[0] != newID || len(k.IDs()) != 2 {
		t.Fatalf("rotate: %v %v", newID, k.IDs())
	}
	c, _ := k.Seal("session_secret", secret)
	if !strings.HasPrefix(string(c), prefix+newID+":") {
		t.Fatalf("sealed after rotation with %q", c)
	}
	if got, err := k.Open("session_secret", a); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open an old blob after rotation: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := Load(dir); ok || err != nil {
		t.Fatalf("load from an empty dir: %v %v", ok, err)
	}
	k, _ := New()
	if err := k.Save(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file mode %v, %v", fi.Mode(), err)
	}
	got, ok, err := Load(dir)
	if !ok || err != nil || got.IDs()[0] != k.IDs()[0] {
		t.Fatalf("load: %v %v %v", ok, err, got.IDs())
	}
	blob, _ := k.Seal("x", []byte("y"))
	if v, err := got.Open("x", blob); err != nil || string(v) != "y" {
		t.Fatalf("a loaded keyring opens: %q %v", v, err)
	}
	for _, bad := range []string{``, `{}`, `{"active":"k1","keys":{"k1":"c2hvcnQ="}}`, `{"active":"a:b","keys":{"a:b":"` + strings.Repeat("A", 43) + `="}}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("parse %q: no error", bad)
		}
	}
}

// FuzzOpen: whatever a sealed-looking value holds, Open answers an error
// or a value, never a panic.
func FuzzOpen(f *testing.F) {
	k, _ := New()
	good, _ := k.Seal("p", []byte("value"))
	for _, s := range []string{string(good), "lsk1:", "lsk1:x:", "lsk1:" + k.IDs()[0] + ":", "lsk1:" + k.IDs()[0] + ":AAAA", "plain"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) { k.Open("p", v) })
}
