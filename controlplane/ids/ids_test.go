package ids

import (
	"strings"
	"testing"
)

func TestNewAndValid(t *testing.T) {
	id := New("str")
	if !Valid("str", id) || Valid("ses", id) || len(id) != len("str_")+16 {
		t.Fatalf("New(str) = %q", id)
	}
	for _, bad := range []string{"str_", "str_ABC", "str_a1", "str_a-b", "stra", "str_" + strings.Repeat("a", 65)} {
		if Valid("str", bad) {
			t.Errorf("Valid(str, %q)", bad)
		}
	}
}

func TestRandomPartsUseTheAlphabet(t *testing.T) {
	for _, s := range []string{Random(10), PlaybackID(), strings.TrimPrefix(Secret("sk_"), "sk_")} {
		if strings.Trim(s, Alphabet) != "" {
			t.Errorf("%q has characters outside the alphabet", s)
		}
	}
	if s := Secret("lsk_"); !strings.HasPrefix(s, "lsk_") || len(s) != len("lsk_")+32 {
		t.Errorf("Secret(lsk_) = %q: want 160 bits after the prefix", s)
	}
}

func TestDerive(t *testing.T) {
	if got := Derive("job", "ast_abc"); got != "job_abc" {
		t.Errorf("Derive(job, ast_abc) = %q", got)
	}
	for _, from := range []string{"ast_abcdefgh234567", "ast_UPPER", "weird-id", "", "ses_a_b"} {
		got := Derive("job", from)
		if !Valid("job", got) || got != Derive("job", from) {
			t.Errorf("Derive(job, %q) = %q: not a stable job id", from, got)
		}
	}
	if Derive("job", "ast_UPPER") == Derive("job", "ast_upper2") {
		t.Error("two ids derive the same id")
	}
}
