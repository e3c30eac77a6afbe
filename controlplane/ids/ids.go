// Package ids makes the random identifiers of control-plane objects. Ids are
// created by the proposer, never inside the state machine, so that applying
// a command is deterministic.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Random returns n random bytes encoded in lower-case base32.
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

// Valid reports whether s looks like an id with the given prefix.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) == 0 || len(rest) > 64 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
