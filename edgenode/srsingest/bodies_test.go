package srsingest

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestHostileHookBodies keeps the issue 12 probe's results for the SRS
// hook endpoint: without the secret nothing is read; with it, bodies over
// MaxHookBody and JSON nested deeper than the decoder allows are refused
// with a 4xx in SRS's answer shape (a non-zero code), and nesting that
// fits in the limit is refused as a malformed hook, not a crash.
func TestHostileHookBodies(t *testing.T) {
	s, err := New(Config{Core: refusingCore{}, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	huge := append([]byte(`{"action":"on_publish","stream":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	huge = append(huge, `"}`...)
	deep := func(n int) []byte {
		return []byte(`{"action":"on_publish","param":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}")
	}
	deepObj := func(n int) []byte {
		return []byte(strings.Repeat(`{"action":`, n) + `"on_publish"` + strings.Repeat("}", n))
	}
	if len(deep(20_000)) > MaxHookBody {
		t.Fatalf("the 20,000-level body (%d bytes) does not fit MaxHookBody", len(deep(20_000)))
	}
	for _, c := range []struct {
		name   string
		target string
		body   []byte
		want   int
	}{
		{"1 MiB without the secret", "/srs/hooks/on_publish", huge, http.StatusForbidden},
		{"1 MiB", "/srs/hooks/on_publish" + q, huge, http.StatusBadRequest},
		{"MaxHookBody+1", "/srs/hooks/on_publish" + q, bytes.Repeat([]byte(" "), MaxHookBody+1), http.StatusBadRequest},
		{"10,000-level array", "/srs/hooks/on_publish" + q, deep(10_000), http.StatusBadRequest},
		{"20,000-level array", "/srs/hooks/on_publish" + q, deep(20_000), http.StatusBadRequest},
		{"5,000-level object", "/srs/hooks/on_publish" + q, deepObj(5_000), http.StatusBadRequest},
		{"unbalanced nesting to the limit", "/srs/hooks/on_publish" + q, bytes.Repeat([]byte("["), MaxHookBody), http.StatusBadRequest},
	} {
		code, a := post(t, s, c.target, c.body, nil)
		if code != c.want || a.Code == 0 {
			t.Errorf("%s: %d %+v, want %d with a non-zero code", c.name, code, a, c.want)
		}
	}
}
