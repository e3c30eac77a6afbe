package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// JoinTokenPrefix starts every join token, so a token pasted into the wrong
// place (or a secret scanner) recognizes it.
const JoinTokenPrefix = "lsj_"

const (
	tokenIDBytes     = 8
	tokenSecretBytes = 32
)

// JoinToken is what the control plane stores for an edge join token: the
// secret only as a hash, so a copy of the state cannot be used to join.
//
// The plaintext form handed to an operator is
//
//	lsj_<id>.<secret>.<ca-fingerprint>
//
// where id is 16 hex digits, secret 43 characters of unpadded base64url
// (32 random bytes), and ca-fingerprint the full 64-hex-digit SHA-256 of the
// cluster CA certificate. The fingerprint is what lets an edge with nothing
// but the token pin the CA on its first connection; it is carried in full
// because a shortened pin would be a weaker one.
type JoinToken struct {
	ID            string `json:"id"`
	SecretHash    string `json:"secret_hash"` // hex SHA-256 of the secret
	CAFingerprint string `json:"ca_fingerprint"`
}

// NewJoinToken mints a join token pinned to the CA with the given
// fingerprint. It returns what to store and the plaintext to show once.
func NewJoinToken(caFingerprint string) (tok JoinToken, plaintext string, err error) {
	caFingerprint = strings.ToLower(caFingerprint)
	if !isFingerprint(caFingerprint) {
		return JoinToken{}, "", errors.New("new join token: ca fingerprint is not a hex sha-256")
	}
	id := make([]byte, tokenIDBytes)
	secret := make([]byte, tokenSecretBytes)
	if _, err := rand.Read(id); err != nil {
		return JoinToken{}, "", fmt.Errorf("new join token: %w", err)
	}
	if _, err := rand.Read(secret); err != nil {
		return JoinToken{}, "", fmt.Errorf("new join token: %w", err)
	}
	tok = JoinToken{
		ID:            hex.EncodeToString(id),
		CAFingerprint: caFingerprint,
	}
	sec := base64.RawURLEncoding.EncodeToString(secret)
	tok.SecretHash = hashSecret(sec)
	return tok, JoinTokenPrefix + tok.ID + "." + sec + "." + caFingerprint, nil
}

// ParseJoinToken splits a plaintext join token into its parts. Errors never
// repeat the token.
func ParseJoinToken(s string) (id, secret, caFP string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), JoinTokenPrefix)
	if !ok {
		return "", "", "", fmt.Errorf("join token: does not start with %q", JoinTokenPrefix)
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return "", "", "", errors.New("join token: want three dot-separated parts after the prefix")
	}
	id, secret, caFP = parts[0], parts[1], parts[2]
	if b, err := hex.DecodeString(id); err != nil || len(b) != tokenIDBytes || strings.ToLower(id) != id {
		return "", "", "", errors.New("join token: malformed id")
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil || len(b) != tokenSecretBytes {
		return "", "", "", errors.New("join token: malformed secret")
	}
	if !isFingerprint(caFP) {
		return "", "", "", errors.New("join token: malformed ca fingerprint")
	}
	return id, secret, caFP, nil
}

// Check reports whether secret is this token's secret, in constant time.
func (t JoinToken) Check(secret string) bool {
	want, err := hex.DecodeString(t.SecretHash)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// hashSecret needs no salt or stretching: the secret is 256 random bits,
// not a password.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// isFingerprint reports whether s is a lowercase hex SHA-256.
func isFingerprint(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
