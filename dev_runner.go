package main

import (
	"path/filepath"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/edgenode/mediajobs"
	"github.com/livestreams/livestreams/shared/objstore"
)

// newRunner is the edge's media job runner, on the shared store.
// Its ffmpeg output goes through output too, for the jobs' logs.
func newRunner(cfg devConfig, store objstore.Store, output *edge.JobOutput) (*mediajobs.Runner, error) {
	return mediajobs.NewRunner(mediajobs.Config{Store: store, FFmpeg: cfg.FFmpeg, WorkDir: filepath.Join(cfg.DataDir, "edge", "jobs"),
		Logger: output.Logger(cfg.Logger.With("side", "edge", "component", "media")), Captions: cfg.Captions})
}
