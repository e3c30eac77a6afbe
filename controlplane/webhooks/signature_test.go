package webhooks

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	secret, body := "whsec_abc123abc123abc123", []byte(`{"id":"e1","type":"asset.ready"}`)
	at := time.Unix(1_700_000_000, 0)
	h := Sign(secret, at, body)
	// The documented scheme, computed by hand for the README's receivers.
	if want := "t=1700000000,v1="; !strings.HasPrefix(h, want) || len(h) != len(want)+64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify(secret, h, body, at.Add(time.Minute), 0); err != nil {
		t.Fatalf("verify: %v", err)
	}
	for name, c := range map[string]struct {
		secret, header string
		body           []byte
		now            time.Time
		want           error
	}{
		"other secret":     {"whsec_other", h, body, at, ErrNoSignature},
		"other body":       {secret, h, []byte(`{"id":"e2"}`), at, ErrNoSignature},
		"replay":           {secret, h, body, at.Add(6 * time.Minute), ErrTooOld},
		"from the future":  {secret, h, body, at.Add(-6 * time.Minute), ErrTooOld},
		"no secret":        {"", h, body, at, ErrNoSecret},
		"no header":        {secret, "", body, at, ErrBadHeader},
		"timestamp moved":  {secret, strings.Replace(h, "t=1700000000", "t=1700000001", 1), body, at, ErrNoSignature},
		"only a timestamp": {secret, "t=1700000000", body, at, ErrBadHeader},
	} {
		if err := Verify(c.secret, c.header, c.body, c.now, 0); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// A rotation may send two signatures; either secret verifies.
	two := h + ",v1=" + strings.TrimPrefix(Sign("whsec_next", at, body), "t=1700000000,v1=")
	for _, s := range []string{secret, "whsec_next"} {
		if err := Verify(s, two, body, at, 0); err != nil {
			t.Errorf("verify %s with two signatures: %v", s, err)
		}
	}
	if err := Verify(secret, "v0=abc, "+h+",x=y", body, at, 0); err != nil {
		t.Errorf("unknown schemes are skipped: %v", err)
	}
}

func FuzzParseSignature(f *testing.F) {
	body := []byte(`{"id":"e1"}`)
	at := time.Unix(1_700_000_000, 0)
	for _, seed := range []string{
		Sign("whsec_seed", at, body),
		"t=1,v1=" + strings.Repeat("0", 64),
		"t=1700000000,v1=" + strings.Repeat("a", 64) + ",v1=" + strings.Repeat("b", 64),
		"t=,v1=",
		"t=-5,v1=zz",
		"v1=" + strings.Repeat("f", 64),
		"t=1700000000,t=1700000000,v1=" + strings.Repeat("0", 64),
		",,,",
		"t=+1,v1=" + strings.Repeat("0", 64),
		"t=99999999999999999999,v1=00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		s, err := ParseSignature(header)
		if err != nil {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("error %v is not ErrBadHeader", err)
			}
			return
		}
		if s.Timestamp <= 0 || len(s.V1) == 0 {
			t.Fatalf("accepted %q as %+v", header, s)
		}
		for _, v := range s.V1 {
			if len(v) != 32 {
				t.Fatalf("accepted a v1 of %d bytes", len(v))
			}
		}
		// Verify never panics, and passes only a header carrying the real
		// signature.
		if Verify("whsec_fuzz", header, body, time.Unix(s.Timestamp, 0), 0) == nil {
			_, sig, _ := strings.Cut(Sign("whsec_fuzz", time.Unix(s.Timestamp, 0), body), ",v1=")
			if !strings.Contains(strings.ToLower(header), sig) {
				t.Fatalf("verified %q without the signature", header)
			}
		}
	})
}
