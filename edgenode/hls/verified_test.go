package hls

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/token"
)

func TestVerifiedTokens(t *testing.T) {
	priv, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := token.GenerateKey()
	keys := token.Keys{"k1": &priv.PublicKey}
	exp := now.Add(time.Hour)
	tok, err := token.Sign(priv, "k1", "sig", exp)
	if err != nil {
		t.Fatal(err)
	}
	var v verifiedTokens
	for range 2 {
		if err := v.verify(tok, keys, "sig", now); err != nil {
			t.Fatal(err)
		}
	}
	if v.len() != 1 {
		t.Fatalf("remembered %d tokens, want 1", v.len())
	}
	// Each check still applies to a remembered token.
	for _, tc := range []struct {
		name string
		keys token.Keys
		pid  string
		now  time.Time
		want error
	}{
		{"other playback id", keys, "sig2", now, token.ErrWrongPlayback},
		{"expired since", keys, "sig", exp.Add(token.Leeway), token.ErrExpired},
		{"key revoked", token.Keys{}, "sig", now, token.ErrUnknownKey},
		{"key replaced under its kid", token.Keys{"k1": &other.PublicKey}, "sig", now, token.ErrBadSignature},
	} {
		if err := v.verify(tok, tc.keys, tc.pid, tc.now); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A key equal to the old one but parsed again (a new pointer) verifies
	// again, successfully.
	pem, _ := token.PublicPEM(&priv.PublicKey)
	again, _ := token.ParsePublicPEM(pem)
	if err := v.verify(tok, token.Keys{"k1": again}, "sig", now); err != nil {
		t.Errorf("same key, new pointer: %v", err)
	}
	// Failures are not remembered.
	if err := v.verify("garbage", keys, "sig", now); err == nil || v.len() != 1 {
		t.Errorf("garbage: %v, %d remembered", err, v.len())
	}
}

func TestVerifiedTokensBounded(t *testing.T) {
	priv, _ := token.GenerateKey()
	keys := token.Keys{"k1": &priv.PublicKey}
	v := verifiedTokens{max: 8}
	for i := range 20 {
		// Half of them expire soon, so the first eviction finds room.
		exp := now.Add(time.Hour)
		if i%2 == 0 {
			exp = now.Add(time.Second)
		}
		pid := "p" + strconv.Itoa(i)
		tok, err := token.Sign(priv, "k1", pid, exp)
		if err != nil {
			t.Fatal(err)
		}
		at := now
		if i >= 8 {
			at = now.Add(time.Minute) // the short ones have expired
		}
		if err := v.verify(tok, keys, pid, at); err != nil && i%2 == 1 {
			t.Fatalf("token %d: %v", i, err)
		}
		if v.len() > 8 {
			t.Fatalf("after %d tokens %d remembered, want at most 8", i+1, v.len())
		}
	}
}
