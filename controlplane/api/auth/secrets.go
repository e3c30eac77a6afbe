package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/livestreams/livestreams/controlplane/ids"
)

// APIKeyPrefix starts every API key, so a leaked key is recognisable and
// the API tells keys from session tokens without trying to parse them.
const APIKeyPrefix = "lsk_"

// apiKeyShown is how much of a key its list entry shows.
const apiKeyShown = len(APIKeyPrefix) + 8

// NewAPIKey returns a fresh key (160 random bits), the short prefix a list
// shows to recognise it by, and the hash it is stored and looked up by.
func NewAPIKey() (secret, prefix, hash string) {
	secret = ids.Secret(APIKeyPrefix)
	return secret, secret[:apiKeyShown], HashAPIKey(secret)
}

// IsAPIKey reports whether a bearer token is an API key.
func IsAPIKey(token string) bool { return strings.HasPrefix(token, APIKeyPrefix) }

// HashAPIKey is the index an API key is stored under. A fast hash is enough:
// the key is 160 random bits, not a guessable password.
func HashAPIKey(secret string) string {
	h := sha256.Sum256([]byte("livestreams-api-key\x00" + secret))
	return hex.EncodeToString(h[:])
}

// SetupTokenPrefix starts the one-time setup token a new cluster prints.
const SetupTokenPrefix = "lst_"

// NewSetupToken returns a fresh one-time setup token (160 random bits) and
// the hash it is stored by.
func NewSetupToken() (token, hash string) {
	token = ids.Secret(SetupTokenPrefix)
	return token, HashSetupToken(token)
}

// HashSetupToken is how the one-time setup token is stored when issued and
// compared when presented at signup: the hex SHA-256 of the plaintext.
func HashSetupToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
