package devcluster

import (
	"path/filepath"

	"github.com/livestreams/livestreams/edgenode/media"
	"github.com/livestreams/livestreams/shared/objstore"
)

// newRunner is the edge's media job runner, on the shared store.
func newRunner(cfg Config, store objstore.Store) (*media.Runner, error) {
	return media.NewRunner(media.Config{Store: store, FFmpeg: cfg.FFmpeg, WorkDir: filepath.Join(cfg.DataDir, "edge", "jobs"),
		Logger: cfg.Logger.With("side", "edge", "component", "media")})
}
