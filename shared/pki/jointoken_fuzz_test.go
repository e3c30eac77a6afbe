package pki

import (
	"strings"
	"testing"
)

// FuzzParseJoinToken: a join token arrives from outside (a file, the
// environment, an edge's join request). Nothing panics, no error repeats
// the input, and what is accepted is exactly a prefix, an 8-byte lower
// hex id, a 32-byte base64url secret and a lower hex SHA-256.
func FuzzParseJoinToken(f *testing.F) {
	fp := strings.Repeat("ab", 32)
	_, good, err := NewJoinToken(fp)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, " " + good + "\n", strings.ToUpper(good), good + ".x", strings.Replace(good, ".", "..", 1),
		JoinTokenPrefix, JoinTokenPrefix + "..", "ljt_x.y.z", strings.TrimSuffix(good, "b"), good[:len(good)/2]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, caFP, err := ParseJoinToken(s)
		if err != nil {
			if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q repeats the token", err)
			}
			return
		}
		if !isFingerprint(caFP) || len(id) != 2*tokenIDBytes || strings.ToLower(id) != id || secret == "" {
			t.Fatalf("accepted %q as id %q, secret %q, fingerprint %q", s, id, secret, caFP)
		}
		if want := JoinTokenPrefix + id + "." + secret + "." + caFP; strings.TrimSpace(s) != want {
			t.Fatalf("accepted %q, which is not %q", s, want)
		}
	})
}
