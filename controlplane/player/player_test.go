package player

import (
	"github.com/livestreams/livestreams/shared/testutil"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler("https://example.test/hls.js")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, Path, nil))
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Type"), "javascript") {
		t.Fatalf("%d %s", w.Code, w.Header())
	}
	if !strings.Contains(body, `"https://example.test/hls.js"`) || strings.Contains(body, "__LIVESTREAMS_HLS_JS_URL__") {
		t.Error("the hls.js URL was not put into the script")
	}
	for _, want := range []string{"livestreams-player", "sendBeacon", "/beacon", "LivestreamsPlayer"} {
		if !strings.Contains(body, want) {
			t.Errorf("the script lacks %q", want)
		}
	}
	w = httptest.NewRecorder()
	Handler("").ServeHTTP(w, httptest.NewRequest(http.MethodGet, HLSJSPath, nil))
	if w.Code != http.StatusOK || w.Body.Len() < 100_000 || !strings.Contains(w.Body.String(), "Hls") {
		t.Errorf("embedded hls.js: %d, %d bytes", w.Code, w.Body.Len())
	}
	w = httptest.NewRecorder()
	Handler("").ServeHTTP(w, httptest.NewRequest(http.MethodGet, Path, nil))
	if strings.Contains(w.Body.String(), "__LIVESTREAMS_HLS_JS_URL__") || strings.Contains(w.Body.String(), "jsdelivr") {
		t.Error("the default script must load the embedded hls.js, not a CDN")
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/player/other.js", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("another path: %d", w.Code)
	}
}

// TestScript runs the script's own unit tests (batching) with Node.js.
func TestScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testutil.Missing(t, "node is not installed")
	}
	out, err := exec.CommandContext(t.Context(), node, "--test", "player.test.js").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}
