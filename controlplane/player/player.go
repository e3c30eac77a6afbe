// Package player serves the embeddable web player: one script around
// hls.js (or the browser's own HLS) that any page loads from the control
// plane, and that reports quality-of-service beacons to the edge serving
// the media (package edgenode/beacon takes them). It deliberately has no
// build step: the script is plain JavaScript, and hls.js (1.7.4, which
// the dashboard plays with too; Apache-2.0, hls.js.LICENSE) is embedded
// and served beside it, so a self-hosted player reaches no third party.
// A page that already has hls.js keeps its own.
package player

import (
	_ "embed"
	"net/http"
	"strings"
)

// Path is where the script is served.
const Path = "/player/livestreams-player.js"

// HLSJSPath is where the embedded hls.js is served, beside the script.
const HLSJSPath = "/player/hls.min.js"

//go:embed livestreams-player.js
var script string

//go:embed hls.min.js
var hlsJS []byte

// Handler serves the script at Path and hls.js at HLSJSPath. The script
// loads hls.js from hlsJSURL, or when it is empty from beside itself.
func Handler(hlsJSURL string) http.Handler {
	body := []byte(strings.Replace(script, "__LIVESTREAMS_HLS_JS_URL__", strings.ReplaceAll(hlsJSURL, `"`, `%22`), 1))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var payload []byte
		switch r.URL.Path {
		case Path:
			payload = body
		case HLSJSPath:
			payload = hlsJS
		default:
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
		w.Write(payload)
	})
}
