// Package dashboard embeds the creators' web app (TypeScript in src/, built
// into dist/ by `make dashboard`) so the binary serves it with no files
// beside it. The built bundle is committed so a fresh machine needs no Node.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed dist
var dist embed.FS

// Handler serves the dashboard's files.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed directive guarantees dist exists
	}
	return http.FileServer(http.FS(sub))
}
