package auth

import (
	"testing"
	"time"
)

func TestEventsTokenScope(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Now()
	tok, exp, err := IssueEventsToken(secret, "org_a", "usr_1", now)
	if err != nil || exp.Sub(now) > EventsTokenTTL {
		t.Fatal(err, exp)
	}
	if org, actor, err := ParseEventsToken(secret, tok, now); err != nil || org != "org_a" || actor != "usr_1" {
		t.Fatalf("parse: %s %s %v", org, actor, err)
	}
	if _, _, err := ParseEventsToken(secret, tok, now.Add(EventsTokenTTL+time.Minute)); err == nil {
		t.Fatal("an expired token parsed")
	}
	if _, err := ParseSession(secret, tok, now); err == nil {
		t.Fatal("an events token passed as a session")
	}
	session, _, _ := IssueSession(secret, "usr_1", now)
	if _, _, err := ParseEventsToken(secret, session, now); err == nil {
		t.Fatal("a session token passed as an events token")
	}
	if _, _, err := ParseEventsToken([]byte("another secret of 32 bytes......"), tok, now); err == nil {
		t.Fatal("a token of another secret parsed")
	}
}

func FuzzParseEventsToken(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	tok, _, _ := IssueEventsToken(secret, "org_a", "usr_1", now)
	for _, s := range []string{tok, "", "a.b.c", tok[:len(tok)-3], "eyJhbGciOiJub25lIn0.e30."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		org, actor, err := ParseEventsToken(secret, s, now)
		if err == nil && (org == "" || actor == "") {
			t.Fatalf("%q parsed with an empty org or actor", s)
		}
	})
}
