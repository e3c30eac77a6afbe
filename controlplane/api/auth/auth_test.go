package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// cheap keeps the tests fast; the format and checks are the same.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if ok, err := VerifyPassword(h, "correct horse battery"); err != nil || !ok {
		t.Fatalf("right password: ok=%v err=%v", ok, err)
	}
	if ok, err := VerifyPassword(h, "correct horse batterY"); err != nil || ok {
		t.Fatalf("wrong password: ok=%v err=%v", ok, err)
	}
	h2, _ := HashPassword("correct horse battery", cheap)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestDefaultParamsVerify(t *testing.T) {
	h, err := HashPassword("a default password", DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, _ := VerifyPassword(h, "a default password"); !ok {
		t.Fatal("default-params hash does not verify")
	}
}

func TestMalformedHashes(t *testing.T) {
	good, _ := HashPassword("password1", cheap)
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"version":        strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":    strings.Join([]string{"", "argon2id", "v=19", "m=4294967295,t=1,p=1", parts[4], parts[5]}, "$"),
		"zero time":      strings.Join([]string{"", "argon2id", "v=19", "m=64,t=0,p=1", parts[4], parts[5]}, "$"),
		"padded params":  strings.Join([]string{"", "argon2id", "v=19", "m=064,t=1,p=1", parts[4], parts[5]}, "$"),
		"extra params":   strings.Join([]string{"", "argon2id", "v=19", "m=64,t=1,p=1,x=2", parts[4], parts[5]}, "$"),
		"bad salt":       strings.Join([]string{"", "argon2id", "v=19", parts[3], "!!", parts[5]}, "$"),
		"short key":      strings.Join([]string{"", "argon2id", "v=19", parts[3], parts[4], "AAAA"}, "$"),
		"too many parts": good + "$x",
	} {
		if _, err := VerifyPassword(h, "password1"); err == nil {
			t.Errorf("%s: %q verified without error", name, h)
		}
	}
}

func TestPasswordLength(t *testing.T) {
	for pw, ok := range map[string]bool{
		"":                         false,
		"1234567":                  false,
		"12345678":                 true,
		"ünïcödé!":                 true, // 8 characters, more bytes
		strings.Repeat("x", 1024):  true,
		strings.Repeat("x", 1025):  false,
		strings.Repeat("é", 600):   false, // 1200 bytes
		strings.Repeat("ab", 4):    true,
		"\x00\x00\x00\x00\x00\x00": false,
	} {
		if err := CheckPasswordLength(pw); (err == nil) != ok {
			t.Errorf("CheckPasswordLength(%d bytes) = %v, want ok=%v", len(pw), err, ok)
		}
	}
}

func FuzzVerifyPassword(f *testing.F) {
	good, _ := HashPassword("password1", cheap)
	f.Add(good, "password1")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "x")
	f.Add("$argon2id$v=19$m=1,t=1,p=255$$", "")
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		p, _, _, err := parseHash(encoded)
		if err != nil {
			return
		}
		if p.Memory > 1<<16 {
			t.Skip("valid but too costly to run in a fuzz loop")
		}
		VerifyPassword(encoded, pw)
	})
}

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestSessionRoundTrip(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tok, exp, err := IssueSession(secret, "usr_a", now)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(SessionTTL)) {
		t.Fatalf("expires %v, want %v", exp, now.Add(SessionTTL))
	}
	if sub, err := ParseSession(secret, tok, now.Add(time.Minute)); err != nil || sub != "usr_a" {
		t.Fatalf("ParseSession = %q, %v", sub, err)
	}
	if _, err := ParseSession(secret, tok, now.Add(SessionTTL+time.Minute)); err == nil {
		t.Fatal("expired token accepted")
	}
	if _, err := ParseSession([]byte("another secret of enough length"), tok, now); err == nil {
		t.Fatal("token accepted with the wrong secret")
	}
	if _, err := ParseSession(secret, tok+"x", now); err == nil {
		t.Fatal("tampered token accepted")
	}
}

func TestSessionRefusesOtherAlgorithms(t *testing.T) {
	now := time.Now()
	claims := jwt.RegisteredClaims{Issuer: issuer, Subject: "usr_a", IssuedAt: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString(secret)
	noExp := jwt.RegisteredClaims{Issuer: issuer, Subject: "usr_a"}
	forever, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, noExp).SignedString(secret)
	other := claims
	other.Issuer = "someone-else"
	foreign, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, other).SignedString(secret)
	for name, tok := range map[string]string{"none": none, "HS512": hs512, "no exp": forever, "issuer": foreign, "garbage": "a.b.c"} {
		if _, err := ParseSession(secret, tok, now); err == nil {
			t.Errorf("%s token accepted", name)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	k, prefix, hash := NewAPIKey()
	if !IsAPIKey(k) || !strings.HasPrefix(k, prefix) || len(prefix) != apiKeyShown {
		t.Fatalf("key %q prefix %q", k, prefix)
	}
	if HashAPIKey(k) != hash || strings.Contains(hash, k) {
		t.Fatal("hash does not match or contains the key")
	}
	k2, _, hash2 := NewAPIKey()
	if k == k2 || hash == hash2 {
		t.Fatal("two keys are equal")
	}
	if IsAPIKey("eyJhbGciOi.x.y") {
		t.Fatal("a JWT taken for an API key")
	}
}

func TestHashSetupToken(t *testing.T) {
	// The stored form is hex SHA-256 of the plaintext, and must stay so: a
	// cluster made by an earlier version holds a pending token's hash.
	if got := HashSetupToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashSetupToken(abc) = %s", got)
	}
	tok, hash := NewSetupToken()
	if !strings.HasPrefix(tok, SetupTokenPrefix) || hash != HashSetupToken(tok) || strings.Contains(hash, tok) {
		t.Fatalf("NewSetupToken() = %q, %q", tok, hash)
	}
}
