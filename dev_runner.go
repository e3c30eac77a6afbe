package main

import (
	"path/filepath"

	"github.com/livestreams/livestreams/edgenode/mediajobs"
	"github.com/livestreams/livestreams/shared/objstore"
)

// newRunner is the edge's media job runner, on the shared store.
func newRunner(cfg devConfig, store objstore.Store) (*mediajobs.Runner, error) {
	return mediajobs.NewRunner(mediajobs.Config{Store: store, FFmpeg: cfg.FFmpeg, WorkDir: filepath.Join(cfg.DataDir, "edge", "jobs"),
		Logger: cfg.Logger.With("side", "edge", "component", "media"), Captions: cfg.Captions})
}
