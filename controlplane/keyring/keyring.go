// Package keyring seals the secrets the control plane keeps in its Raft
// state (the session and stream-key secrets, the cluster CA's private key,
// kept signing keys) with keys that are never in that state: a small file
// in each control node's data dir, handed to joining nodes over the
// cluster-key-authenticated join call. A leaked snapshot, Raft log or
// state file then reveals no secret without the keyring.
//
// A sealed value is "lsk1:" KEYID ":" base64url(nonce || AES-256-GCM
// ciphertext), its purpose bound as additional data, so a blob cannot be
// moved to another field. The key id lets a keyring hold older keys for
// opening while the newest seals. Sealing draws a random nonce, so it is
// done by whoever proposes a command, never while one is applied.
package keyring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// FileName is the keyring's file in a control node's data dir.
const FileName = "keyring.json"

// prefix marks a sealed value.
const prefix = "lsk1:"

// ErrNoKeyring is opening a sealed value without a keyring.
var ErrNoKeyring = errors.New("the cluster keyring is missing: copy " + FileName + " from another control node's data dir (or restore it from backup)")

// IsSealed reports whether v is a sealed value rather than a plaintext one.
func IsSealed(v []byte) bool { return bytes.HasPrefix(v, []byte(prefix)) }

// Keyring is a set of AES-256 keys by id; Active seals. The zero value
// (or nil) holds no key: it opens plaintext values only.
type Keyring struct {
	mu     sync.RWMutex
	active string
	keys   map[string][]byte
}

type file struct {
	Active string            `json:"active"`
	Keys   map[string][]byte `json:"keys"`
	// Created is informational: when the active key was made.
	Created time.Time `json:"created,omitempty"`
}

// New returns a keyring with one fresh key.
func New() (*Keyring, error) {
	k := &Keyring{keys: map[string][]byte{}}
	if _, err := k.Rotate(); err != nil {
		return nil, err
	}
	return k, nil
}

// Rotate adds a fresh key and makes it the one that seals; the older
// keys still open what they sealed. It returns the new key's id.
func (k *Keyring) Rotate() (string, error) {
	key := make([]byte, 32)
	id := make([]byte, 6)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("new keyring key: %w", err)
	}
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("new keyring key: %w", err)
	}
	kid := "k" + base64.RawURLEncoding.EncodeToString(id)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[string][]byte{}
	}
	k.keys[kid], k.active = key, kid
	return kid, nil
}

// Parse reads a keyring from its file's bytes.
func Parse(raw []byte) (*Keyring, error) {
	var f file
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("parse keyring: %w", err)
	}
	if f.Keys[f.Active] == nil {
		return nil, errors.New("parse keyring: the active key is missing")
	}
	for id, key := range f.Keys {
		if len(key) != 32 || strings.ContainsAny(id, ":") {
			return nil, fmt.Errorf("parse keyring: key %q is not a 32-byte key", id)
		}
	}
	return &Keyring{active: f.Active, keys: f.Keys}, nil
}

// Marshal is the keyring's file content.
func (k *Keyring) Marshal() ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return json.MarshalIndent(file{Active: k.active, Keys: k.keys}, "", "  ")
}

// IDs lists the key ids, the active one first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []string
	for id := range k.keys {
		if id != k.active {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	if k.active != "" {
		out = append([]string{k.active}, out...)
	}
	return out
}

// Load reads the keyring in dir; ok is false when there is none.
func Load(dir string) (k *Keyring, ok bool, err error) {
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("read keyring: %w", err)
	}
	k, err = Parse(raw)
	return k, err == nil, err
}

// Save writes the keyring to dir (0600), replacing the file atomically.
func (k *Keyring) Save(dir string) error {
	raw, err := k.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save keyring: %w", err)
	}
	tmp := filepath.Join(dir, FileName+".tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("save keyring: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, FileName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save keyring: %w", err)
	}
	return nil
}

// Replace takes the keys of other (a keyring received when joining).
func (k *Keyring) Replace(other *Keyring) {
	other.mu.RLock()
	active, keys := other.active, map[string][]byte{}
	for id, key := range other.keys {
		keys[id] = key
	}
	other.mu.RUnlock()
	k.mu.Lock()
	k.active, k.keys = active, keys
	k.mu.Unlock()
}

func aead(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal encrypts plain for purpose with the active key. An empty plain
// seals to empty (nothing to hide).
func (k *Keyring) Seal(purpose string, plain []byte) ([]byte, error) {
	if len(plain) == 0 {
		return nil, nil
	}
	if k == nil {
		return nil, ErrNoKeyring
	}
	k.mu.RLock()
	id, key := k.active, k.keys[k.active]
	k.mu.RUnlock()
	if key == nil {
		return nil, ErrNoKeyring
	}
	g, err := aead(key)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", purpose, err)
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal %s: %w", purpose, err)
	}
	ct := g.Seal(nonce, nonce, plain, []byte(purpose))
	return []byte(prefix + id + ":" + base64.RawURLEncoding.EncodeToString(ct)), nil
}

// SealString is Seal for text (a PEM).
func (k *Keyring) SealString(purpose, plain string) (string, error) {
	b, err := k.Seal(purpose, []byte(plain))
	return string(b), err
}

// Open decrypts a sealed value of purpose; a plaintext value (state
// written before sealing existed) is returned as it is.
func (k *Keyring) Open(purpose string, v []byte) ([]byte, error) {
	if !IsSealed(v) {
		return v, nil
	}
	if k == nil {
		return nil, ErrNoKeyring
	}
	id, body, ok := strings.Cut(string(v[len(prefix):]), ":")
	if !ok {
		return nil, fmt.Errorf("open %s: malformed sealed value", purpose)
	}
	k.mu.RLock()
	key := k.keys[id]
	empty := len(k.keys) == 0
	k.mu.RUnlock()
	if empty {
		return nil, ErrNoKeyring
	}
	if key == nil {
		return nil, fmt.Errorf("open %s: sealed with key %s, which this node's keyring lacks", purpose, id)
	}
	ct, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("open %s: malformed sealed value", purpose)
	}
	g, err := aead(key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", purpose, err)
	}
	if len(ct) < g.NonceSize() {
		return nil, fmt.Errorf("open %s: malformed sealed value", purpose)
	}
	plain, err := g.Open(nil, ct[:g.NonceSize()], ct[g.NonceSize():], []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("open %s: the value does not authenticate with key %s", purpose, id)
	}
	return plain, nil
}

// OpenString is Open for text.
func (k *Keyring) OpenString(purpose, v string) (string, error) {
	b, err := k.Open(purpose, []byte(v))
	return string(b), err
}

// ActiveID is the id of the key that seals ("" for an empty keyring).
func (k *Keyring) ActiveID() string {
	if k == nil {
		return ""
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.active
}

// KeyID is the id of the key that sealed v ("" for a plaintext value).
func KeyID(v []byte) string {
	if !IsSealed(v) {
		return ""
	}
	id, _, _ := strings.Cut(string(v[len(prefix):]), ":")
	return id
}
