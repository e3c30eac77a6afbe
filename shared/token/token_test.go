package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const pid = "pb_Xy12-ab"

// t0 is the tests' "now"; tokens expire an hour later.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func mustKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustSign(tb testing.TB, priv *ecdsa.PrivateKey, kid, playbackID string, exp time.Time) string {
	tb.Helper()
	tok, err := Sign(priv, kid, playbackID, exp)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// jwtSign mints a token with golang-jwt, as an org's own backend would.
func jwtSign(tb testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	tb.Helper()
	tk := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tk.Header["kid"] = kid
	}
	s, err := tk.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// rawToken assembles header.claims.signature from JSON parts and raw
// signature bytes, for shapes no library would produce.
func rawToken(header, claims string, sig []byte) string {
	e := base64.RawURLEncoding
	return e.EncodeToString([]byte(header)) + "." + e.EncodeToString([]byte(claims)) + "." + e.EncodeToString(sig)
}

// signRaw signs arbitrary header and claims JSON with ES256, for signed
// tokens whose contents no library would produce.
func signRaw(tb testing.TB, priv *ecdsa.PrivateKey, header, claims string) string {
	tb.Helper()
	e := base64.RawURLEncoding
	in := e.EncodeToString([]byte(header)) + "." + e.EncodeToString([]byte(claims))
	sig, err := jwt.SigningMethodES256.Sign(in, priv)
	if err != nil {
		tb.Fatal(err)
	}
	return in + "." + e.EncodeToString(sig)
}

func TestSignVerify(t *testing.T) {
	priv := mustKey(t)
	exp := t0.Add(time.Hour).Add(700 * time.Millisecond)
	tok := mustSign(t, priv, "k1", pid, exp)
	if len(tok) > 400 {
		t.Errorf("token is %d bytes; expected about 300", len(tok))
	}
	c, err := Verify(tok, Keys{"k1": &priv.PublicKey}, pid, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Subject: pid, Audience: Audience, ExpiresAt: exp.Truncate(time.Second), KeyID: "k1"}
	if c.IssuedAt.IsZero() || time.Since(c.IssuedAt) > time.Minute {
		t.Errorf("IssuedAt = %v, want about now", c.IssuedAt)
	}
	c.IssuedAt = time.Time{}
	if !c.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("ExpiresAt = %v, want %v", c.ExpiresAt, want.ExpiresAt)
	}
	c.ExpiresAt = want.ExpiresAt
	if c != want {
		t.Errorf("claims = %+v, want %+v", c, want)
	}

	// The header and claims are what the package doc promises.
	parts := strings.Split(tok, ".")
	var h map[string]any
	var cl map[string]any
	decodePart(t, parts[0], &h)
	decodePart(t, parts[1], &cl)
	if h["alg"] != "ES256" || h["typ"] != "JWT" || h["kid"] != "k1" || len(h) != 3 {
		t.Errorf("header = %v", h)
	}
	if cl["sub"] != pid || cl["aud"] != "v" || cl["exp"] != float64(exp.Unix()) || cl["iat"] == nil || len(cl) != 4 {
		t.Errorf("claims = %v", cl)
	}
}

func decodePart(t *testing.T, part string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestSignRefuses(t *testing.T) {
	priv := mustKey(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	exp := t0.Add(time.Hour)
	for name, f := range map[string]func() (string, error){
		"nil key":      func() (string, error) { return Sign(nil, "k", pid, exp) },
		"empty kid":    func() (string, error) { return Sign(priv, "", pid, exp) },
		"empty pid":    func() (string, error) { return Sign(priv, "k", "", exp) },
		"zero expires": func() (string, error) { return Sign(priv, "k", pid, time.Time{}) },
		"p-384 key":    func() (string, error) { return Sign(p384, "k", pid, exp) },
	} {
		if tok, err := f(); err == nil {
			t.Errorf("%s: Sign = %q, want an error", name, tok)
		}
	}
}

// TestInterop checks both directions against golang-jwt, the library an
// org's backend is most likely to mint tokens with in Go.
func TestInterop(t *testing.T) {
	priv := mustKey(t)
	keys := Keys{"k1": &priv.PublicKey}
	exp := t0.Add(time.Hour)

	t.Run("ours verified by jwt/v5", func(t *testing.T) {
		tok := mustSign(t, priv, "k1", pid, exp)
		var got jwt.RegisteredClaims
		parsed, err := jwt.ParseWithClaims(tok, &got, func(tk *jwt.Token) (any, error) {
			if tk.Header["kid"] != "k1" {
				t.Errorf("kid = %v", tk.Header["kid"])
			}
			return &priv.PublicKey, nil
		}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(Audience), jwt.WithSubject(pid),
			jwt.WithExpirationRequired(), jwt.WithStrictDecoding(), jwt.WithTimeFunc(func() time.Time { return t0 }))
		if err != nil || !parsed.Valid {
			t.Fatalf("jwt/v5 refused our token: %v", err)
		}
		if !got.ExpiresAt.Equal(exp) {
			t.Errorf("exp = %v, want %v", got.ExpiresAt, exp)
		}
	})

	t.Run("jwt/v5 verified by ours, aud as array", func(t *testing.T) {
		// golang-jwt writes a single audience as ["v"] by default.
		tok := jwtSign(t, jwt.SigningMethodES256, priv, "k1", jwt.RegisteredClaims{
			Subject: pid, Audience: jwt.ClaimStrings{Audience}, ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(t0),
		})
		c, err := Verify(tok, keys, pid, t0)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != pid || !c.ExpiresAt.Equal(exp) || !c.IssuedAt.Equal(t0) || c.KeyID != "k1" {
			t.Errorf("claims = %+v", c)
		}
	})

	t.Run("jwt/v5 verified by ours, aud as string among others", func(t *testing.T) {
		tok := jwtSign(t, jwt.SigningMethodES256, priv, "k1", jwt.MapClaims{
			"sub": pid, "aud": "v", "exp": float64(exp.Unix()) + 0.5, "iss": "backend", "custom": []int{1},
		})
		if _, err := Verify(tok, keys, pid, t0); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVerifyRefuses(t *testing.T) {
	priv, other := mustKey(t), mustKey(t)
	keys := Keys{"k1": &priv.PublicKey, "k2": &other.PublicKey}
	exp := t0.Add(time.Hour)
	good := mustSign(t, priv, "k1", pid, exp)
	parts := strings.Split(good, ".")
	otherPID := strings.Split(mustSign(t, priv, "k1", "someone-else", exp), ".")
	es256 := func(claims jwt.MapClaims) string { return jwtSign(t, jwt.SigningMethodES256, priv, "k1", claims) }
	b64 := base64.RawURLEncoding.EncodeToString

	// flip changes one character in the middle of s, keeping it base64url.
	flip := func(s string) string {
		b := []byte(s)
		i := len(b) / 2
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	pubPEM, err := PublicPEM(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		tok  string
		keys Keys
		pid  string
		now  time.Time
		want error
	}{
		{name: "payload swapped for another playback id", tok: parts[0] + "." + otherPID[1] + "." + parts[2], want: ErrBadSignature},
		{name: "payload byte changed", tok: parts[0] + "." + flip(parts[1]) + "." + parts[2], want: ErrBadSignature},
		{name: "signature byte changed", tok: parts[0] + "." + parts[1] + "." + flip(parts[2]), want: ErrBadSignature},
		{name: "signature truncated", tok: good[:len(good)-4], want: ErrBadSignature},
		{name: "signature empty", tok: parts[0] + "." + parts[1] + ".", want: ErrBadSignature},
		{name: "kid points at another known key", tok: b64([]byte(`{"alg":"ES256","typ":"JWT","kid":"k2"}`)) + "." + parts[1] + "." + parts[2], want: ErrBadSignature},
		{name: "kid unknown", tok: mustSign(t, priv, "k9", pid, exp), want: ErrUnknownKey},
		{name: "kid missing", tok: jwtSign(t, jwt.SigningMethodES256, priv, "", jwt.MapClaims{"sub": pid, "aud": "v", "exp": exp.Unix()}), want: ErrUnknownKey},
		{name: "no keys at all", tok: good, keys: Keys{}, want: ErrUnknownKey},
		{name: "nil key in keys", tok: good, keys: Keys{"k1": nil}, want: ErrUnknownKey},
		{name: "expired past leeway", tok: good, now: exp.Add(Leeway), want: ErrExpired},
		{name: "expired long ago", tok: good, now: exp.Add(24 * time.Hour), want: ErrExpired},
		{name: "not valid yet", tok: es256(jwt.MapClaims{"sub": pid, "aud": "v", "exp": exp.Unix(), "nbf": t0.Add(time.Minute).Unix()}), want: ErrNotYetValid},
		{name: "wrong playback id", tok: good, pid: "someone-else", want: ErrWrongPlayback},
		{name: "empty playback id", tok: good, pid: "", want: ErrWrongPlayback},
		{name: "wrong aud string", tok: es256(jwt.MapClaims{"sub": pid, "aud": "x", "exp": exp.Unix()}), want: ErrWrongAudience},
		{name: "wrong aud array", tok: es256(jwt.MapClaims{"sub": pid, "aud": []string{"x", "V"}, "exp": exp.Unix()}), want: ErrWrongAudience},
		{name: "no aud", tok: es256(jwt.MapClaims{"sub": pid, "exp": exp.Unix()}), want: ErrWrongAudience},
		{name: "aud of wrong type", tok: es256(jwt.MapClaims{"sub": pid, "aud": 1, "exp": exp.Unix()}), want: ErrMalformed},
		{name: "no exp", tok: es256(jwt.MapClaims{"sub": pid, "aud": "v"}), want: ErrMalformed},
		{name: "exp as string", tok: es256(jwt.MapClaims{"sub": pid, "aud": "v", "exp": "1893553445"}), want: ErrMalformed},
		{name: "exp negative", tok: es256(jwt.MapClaims{"sub": pid, "aud": "v", "exp": -1}), want: ErrMalformed},
		{name: "exp beyond year 9999", tok: es256(jwt.MapClaims{"sub": pid, "aud": "v", "exp": 1e300}), want: ErrMalformed},
		{name: "sub of wrong type", tok: es256(jwt.MapClaims{"sub": 7, "aud": "v", "exp": exp.Unix()}), want: ErrMalformed},
		{name: "alg none", tok: rawToken(`{"alg":"none","typ":"JWT","kid":"k1"}`, `{"sub":"`+pid+`","aud":"v","exp":1893553445}`, nil), want: ErrMalformed},
		{name: "alg ES256 spelled differently", tok: rawToken(`{"alg":"es256","kid":"k1"}`, `{}`, make([]byte, 64)), want: ErrMalformed},
		// The classic confusion: an HMAC keyed with the public key, which
		// a verifier that trusts the alg header would accept.
		{name: "alg HS256 keyed with the public key", tok: jwtSign(t, jwt.SigningMethodHS256, []byte(pubPEM), "k1", jwt.MapClaims{"sub": pid, "aud": "v", "exp": exp.Unix()}), want: ErrMalformed},
		{name: "alg ES384", tok: rawToken(`{"alg":"ES384","kid":"k1"}`, `{}`, make([]byte, 96)), want: ErrMalformed},
		{name: "typ not JWT", tok: rawToken(`{"alg":"ES256","typ":"JOSE+JSON","kid":"k1"}`, `{}`, make([]byte, 64)), want: ErrMalformed},
		{name: "crit header", tok: rawToken(`{"alg":"ES256","kid":"k1","crit":["b64"]}`, `{}`, make([]byte, 64)), want: ErrMalformed},
		{name: "header not json", tok: rawToken(`alg`, `{}`, make([]byte, 64)), want: ErrMalformed},
		{name: "header not base64url", tok: "e30=." + parts[1] + "." + parts[2], want: ErrMalformed},
		{name: "signed claims not json", tok: signRaw(t, priv, `{"alg":"ES256","kid":"k1"}`, `{"sub":`), want: ErrMalformed},
		{name: "signed claims an array", tok: signRaw(t, priv, `{"alg":"ES256","kid":"k1"}`, `[]`), want: ErrMalformed},
		{name: "empty", tok: "", want: ErrMalformed},
		{name: "two parts", tok: parts[0] + "." + parts[1], want: ErrMalformed},
		{name: "four parts", tok: good + ".x", want: ErrMalformed},
		{name: "newline inside", tok: good[:20] + "\n" + good[20:], want: ErrMalformed},
		{name: "padding", tok: good + "==", want: ErrMalformed},
		{name: "too long", tok: parts[0] + "." + strings.Repeat("A", MaxLen) + "." + parts[2], want: ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, p, now := tc.keys, tc.pid, tc.now
			if k == nil {
				k = keys
			}
			if p == "" && tc.want != ErrWrongPlayback {
				p = pid
			}
			if now.IsZero() {
				now = t0
			}
			c, err := Verify(tc.tok, k, p, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tc.want)
			}
			if c != (Claims{}) {
				t.Errorf("claims = %+v on error, want zero", c)
			}
			if len(tc.tok) > 20 && strings.Contains(err.Error(), tc.tok) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	priv := mustKey(t)
	keys := Keys{"k1": &priv.PublicKey}
	exp := t0.Add(time.Hour)
	tok := mustSign(t, priv, "k1", pid, exp)
	for _, now := range []time.Time{exp.Add(-time.Second), exp, exp.Add(Leeway - time.Nanosecond)} {
		if _, err := Verify(tok, keys, pid, now); err != nil {
			t.Errorf("at exp%+v: %v", now.Sub(exp), err)
		}
	}
	nbf := jwtSign(t, jwt.SigningMethodES256, priv, "k1", jwt.MapClaims{"sub": pid, "aud": "v", "exp": exp.Unix(), "nbf": t0.Add(Leeway).Unix()})
	if _, err := Verify(nbf, keys, pid, t0); err != nil {
		t.Errorf("nbf within leeway: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	priv := mustKey(f)
	keys := Keys{"k1": &priv.PublicKey}
	exp := t0.Add(time.Hour)
	good := mustSign(f, priv, "k1", pid, exp)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(jwtSign(f, jwt.SigningMethodES256, priv, "k1", jwt.MapClaims{"sub": pid, "aud": []string{"a", "v"}, "exp": 1.5e9, "nbf": 0}))
	f.Add(rawToken(`{"alg":"ES256","kid":"k1"}`, `{"sub":"x","aud":null,"exp":1e400}`, make([]byte, 64)))
	f.Add(rawToken(`{"alg":"none"}`, `{}`, nil))
	f.Add("..")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Verify(tok, keys, pid, t0)
		if err != nil {
			if c != (Claims{}) {
				t.Errorf("claims %+v on error", c)
			}
			if len(tok) >= 40 && strings.Contains(err.Error(), tok) {
				t.Errorf("error contains the token")
			}
			return
		}
		// Anything accepted must really be a signed token for us.
		if c.Subject != pid || c.Audience != Audience || c.KeyID != "k1" || !t0.Before(c.ExpiresAt.Add(Leeway)) {
			t.Errorf("accepted %q with claims %+v", tok, c)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	priv := mustKey(b)
	keys := Keys{"k1": &priv.PublicKey, "k2": &mustKey(b).PublicKey}
	tok := mustSign(b, priv, "k1", pid, t0.Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(tok, keys, pid, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	priv := mustKey(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(priv, "k1", pid, t0); err != nil {
			b.Fatal(err)
		}
	}
}
