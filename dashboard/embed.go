// Package dashboard embeds the creators' web app (TypeScript and Preact in
// src/, built into dist/ by `make dashboard`) so the binary serves it with
// no files beside it. The built bundle is committed so a fresh machine
// needs no Node. The app routes in the browser (/streams/ID, /assets/ID…),
// so every path that names no file of the bundle is answered with
// index.html; the API (/v1/), the player and the objects are mounted
// before it and never reach this handler.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed dist
var dist embed.FS

// Handler serves the dashboard's files, and index.html for the app's own
// paths.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed directive guarantees dist exists
	}
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err) // a build always writes index.html
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" && name != "index.html" {
			if _, err := fs.Stat(sub, name); err == nil {
				files.ServeHTTP(w, r)
				return
			}
			// A missing asset is a 404; a missing page is the app's.
			if path.Ext(name) != "" {
				http.NotFound(w, r)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(index)
	})
}
