package beacon

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHostileBodies keeps the issue 12 probe's results for the beacon
// endpoint: bodies over MaxBody are 413 whether or not they declare their
// length, JSON nested past what fits is 400, nesting that fits is skipped
// event by event, and none of it is counted or crashes the handler.
func TestHostileBodies(t *testing.T) {
	agg, _ := newTestAgg(t)
	h := NewHandler(agg, nil, NewLimiter(1e6, 1e6, 1000))
	deepArray := func(n int) []byte {
		return []byte("[" + strings.Repeat("[", n) + strings.Repeat("]", n) + "]")
	}
	deepObject := func(n int) []byte {
		return []byte(`[{"view_id":"v1","playback_id":"p1","type":"view_start","x":` +
			strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) + "}]")
	}
	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"1 MiB", bytes.Repeat([]byte("["), 1<<20), http.StatusRequestEntityTooLarge},
		{"MaxBody+1 of a valid array", append([]byte(`[{"view_id":"v1","playback_id":"p1","type":"view_start","code":"`),
			append(bytes.Repeat([]byte("x"), MaxBody), `"}]`...)...), http.StatusRequestEntityTooLarge},
		{"unbalanced nesting to the limit", bytes.Repeat([]byte("["), MaxBody), http.StatusBadRequest},
		{"10,001 levels", deepArray(10_001)[:MaxBody], http.StatusBadRequest},
		{"7,000-level array element", deepArray(7_000), http.StatusNoContent},
		{"2,000-level object in an event", deepObject(2_000), http.StatusNoContent},
		{"an object, not an array", []byte(`{"view_id":"v1"}`), http.StatusBadRequest},
		{"NUL bytes", bytes.Repeat([]byte{0}, 100), http.StatusBadRequest},
	}
	for _, c := range cases {
		if got := post(h, c.body, "10.0.0.9:1", ""); got != c.want {
			t.Errorf("%s (%d bytes): %d, want %d", c.name, len(c.body), got, c.want)
		}
		// The same without a declared length (chunked).
		r := httptest.NewRequest(http.MethodPost, "/beacon", io.MultiReader(bytes.NewReader(c.body)))
		r.ContentLength = -1
		r.RemoteAddr = "10.0.0.9:1"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s, length not declared: %d, want %d", c.name, w.Code, c.want)
		}
	}
	// Only the well-formed event under a deep extra field (sent
	// twice) got through, to be dropped for their playback id
	// never served here; the 7,000-level element was skipped twice.
	if s := agg.Stats(); s.Events != 2 || s.Unknown != 2 || s.Skipped != 2 {
		t.Errorf("stats after the hostile bodies: %+v", s)
	}
}
