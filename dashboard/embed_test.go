package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler checks the bundle is served and that the app's own paths
// (routed in the browser) answer with index.html, while a missing file is
// a 404.
func TestHandler(t *testing.T) {
	t.Parallel()
	h := Handler()
	for _, c := range []struct {
		path, contains string
		code           int
	}{
		{"/", `<div id="app">`, 200},
		{"/streams/str_123", `<div id="app">`, 200},
		{"/assets", `<div id="app">`, 200},
		{"/app.js", "", 200},
		{"/app.css", "", 200},
		{"/nope.js", "", 404},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.contains) {
			t.Errorf("GET %s: %d %.80q, want %d with %q", c.path, rec.Code, rec.Body.String(), c.code, c.contains)
		}
	}
}
