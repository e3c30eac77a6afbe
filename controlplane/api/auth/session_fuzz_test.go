package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzParseSession feeds arbitrary bearer tokens to ParseSession. Nothing
// panics, and whatever it accepts is an HS256 JWT whose signature is the
// HMAC of its first two parts under the secret: no input forges one.
func FuzzParseSession(f *testing.F) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	good, _, err := IssueSession(secret, "usr_a", now)
	if err != nil {
		f.Fatal(err)
	}
	claims := jwt.RegisteredClaims{Issuer: issuer, Subject: "usr_a", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString(secret)
	for _, s := range []string{good, none, hs512, good + "x", strings.TrimSuffix(good, good[len(good)-3:]), "a.b.c", "", ".", "..", "...",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c3JfeCJ9.", "eyJhbGciOiJIUzI1NiJ9.e30.", strings.Repeat("A", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		sub, err := ParseSession(secret, tok, now.Add(time.Minute))
		if err != nil {
			if sub != "" {
				t.Fatalf("refused %q but returned subject %q", tok, sub)
			}
			return
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 || sub == "" {
			t.Fatalf("accepted %q: %d parts, subject %q", tok, len(parts), sub)
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(parts[0] + "." + parts[1]))
		got, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || !hmac.Equal(got, m.Sum(nil)) {
			t.Fatalf("accepted %q without a valid HS256 signature", tok)
		}
	})
}
