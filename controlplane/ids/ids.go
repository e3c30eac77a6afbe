// Package ids makes the random identifiers of control-plane objects and the
// random parts of its credentials, all in one alphabet. Ids are created by
// the proposer, never inside the state machine, so that applying a command
// is deterministic. It does not hash or seal credentials: their packages do.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Alphabet is what the random part of every id, playback id, stream key,
// API key and setup token is written in: lower-case base32, safe in URLs,
// file names and object keys.
const Alphabet = "abcdefghijklmnopqrstuvwxyz234567"

var enc = base32.NewEncoding(Alphabet).WithPadding(base32.NoPadding)

// Random returns n random bytes encoded in Alphabet.
func Random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // the OS is out of entropy: nothing sane to do
	}
	return enc.EncodeToString(b)
}

// New returns a prefixed object id such as "str_5kq…" (80 random bits).
func New(prefix string) string { return prefix + "_" + Random(10) }

// PlaybackID returns a public playback id (120 random bits, URL safe).
func PlaybackID() string { return Random(15) }

// Secret returns a credential: prefix ("sk_", "lsk_") then 160 random
// bits, too many to guess, so a fast hash is enough to index it by.
func Secret(prefix string) string { return prefix + Random(20) }

// Valid reports whether s looks like an id with the given prefix.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) == 0 || len(rest) > 64 {
		return false
	}
	for _, c := range rest {
		if !strings.ContainsRune(Alphabet, c) {
			return false
		}
	}
	return true
}

// Derive returns the id with prefix that belongs to the object with id
// from, the same every time, so it is found again from that object's id:
// "ast_x" gives "job_x"; an id of another shape gives a hash of it.
func Derive(prefix, from string) string {
	if _, rest, ok := strings.Cut(from, "_"); ok && Valid(prefix, prefix+"_"+rest) {
		return prefix + "_" + rest
	}
	sum := sha256.Sum256([]byte(from))
	return prefix + "_" + enc.EncodeToString(sum[:10])
}
