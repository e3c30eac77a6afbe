package streamkey

import (
	"strings"
	"testing"
)

func TestSealOpenAndHash(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k := New()
	if !strings.HasPrefix(k, Prefix) || len(k) < 30 {
		t.Fatalf("key %q", k)
	}
	sealed, err := Seal(secret, k)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, k) {
		t.Fatal("sealed form contains the key")
	}
	got, err := Open(secret, sealed)
	if err != nil || got != k {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := Open([]byte("another secret another secret!!"), sealed); err == nil {
		t.Fatal("opened with the wrong secret")
	}
	if _, err := Open(secret, "!!"); err == nil {
		t.Fatal("opened garbage")
	}
	if Hash(secret, k) != Hash(secret, k) || Hash(secret, k) == Hash(secret, New()) {
		t.Fatal("hash not a function of the key")
	}
	if strings.Contains(Redact(k), k[8:]) {
		t.Fatal("redact leaks the key")
	}
}

func TestGenerate(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	key, hash, sealed, err := Generate(secret)
	if err != nil {
		t.Fatal(err)
	}
	if hash != Hash(secret, key) {
		t.Error("hash does not match the key")
	}
	if got, err := Open(secret, sealed); err != nil || got != key {
		t.Errorf("sealed opens to %q, %v; want the key", got, err)
	}
}
