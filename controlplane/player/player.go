// Package player serves the embeddable web player: one script around
// hls.js (or the browser's own HLS) that any page loads from the control
// plane, and that reports quality-of-service beacons to the edge serving
// the media (package edgenode/beacon takes them). It deliberately has no
// build step: the script is plain JavaScript, and hls.js is loaded from a
// configurable URL unless the page already has it.
package player

import (
	_ "embed"
	"net/http"
	"strings"
)

// Path is where the script is served.
const Path = "/player/livestreams-player.js"

// DefaultHLSJSURL is where the script loads hls.js from by default; the
// same version the dashboard bundles.
const DefaultHLSJSURL = "https://cdn.jsdelivr.net/npm/hls.js@1.7.4/dist/hls.min.js"

//go:embed livestreams-player.js
var script string

// Handler serves the script at Path, loading hls.js from hlsJSURL
// (DefaultHLSJSURL when empty).
func Handler(hlsJSURL string) http.Handler {
	if hlsJSURL == "" {
		hlsJSURL = DefaultHLSJSURL
	}
	body := []byte(strings.Replace(script, "__LIVESTREAMS_HLS_JS_URL__", strings.ReplaceAll(hlsJSURL, `"`, `%22`), 1))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Write(body)
	})
}
