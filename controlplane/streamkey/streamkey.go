// Package streamkey makes, indexes and seals stream keys. A key is looked up
// by an HMAC keyed with the cluster's stream-key secret (so a stolen state
// file does not reveal keys by hash alone) and stored sealed with AES-GCM so
// it can be shown again on request. Keys never appear in logs: use Redact.
package streamkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/livestreams/livestreams/controlplane/ids"
)

// Prefix starts every stream key, so leaked keys are recognisable by scanners.
const Prefix = "sk_"

// New returns a fresh stream key (160 random bits).
func New() string { return ids.Secret(Prefix) }

// Hash is the keyed hash a stream is indexed by.
func Hash(secret []byte, key string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("stream-key-index\x00"))
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

func aead(secret []byte) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("stream-key-seal\x00"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts key for storage.
func Seal(secret []byte, key string) (string, error) {
	a, err := aead(secret)
	if err != nil {
		return "", fmt.Errorf("seal stream key: %w", err)
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal stream key: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(a.Seal(nonce, nonce, []byte(key), nil)), nil
}

// Generate makes a new key and what is stored of it: its lookup hash and
// its sealed form.
func Generate(secret []byte) (key, hash, sealed string, err error) {
	key = New()
	if sealed, err = Seal(secret, key); err != nil {
		return "", "", "", err
	}
	return key, Hash(secret, key), sealed, nil
}

// Open decrypts a sealed key.
func Open(secret []byte, sealed string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return "", errors.New("open stream key: malformed")
	}
	a, err := aead(secret)
	if err != nil {
		return "", fmt.Errorf("open stream key: %w", err)
	}
	if len(raw) < a.NonceSize() {
		return "", errors.New("open stream key: malformed")
	}
	plain, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], nil)
	if err != nil {
		return "", errors.New("open stream key: authentication failed")
	}
	return string(plain), nil
}

// Redact returns a form of key safe for logs.
func Redact(key string) string {
	if len(key) <= len(Prefix)+4 {
		return "…"
	}
	return key[:len(Prefix)+4] + "…"
}
