package mediajobs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// keyframeTilesMS is the storyboard interval from which tiles are taken
// from keyframes only (-skip_frame nokey): a live source has one at least
// every few seconds, close enough to a tile's time when tiles are this far
// apart, and decoding only them costs a fraction of decoding every frame.
const keyframeTilesMS = 5000

// liveReady reports whether the live renditions a recording-vod job names
// are in the store: their multivariant playlist is uploaded last, so its
// presence means the ladder is whole.
func (r *Runner) liveReady(ctx context.Context, j *jobRun, live *protocol.LiveRenditions, prefix string) (bool, error) {
	if live == nil || len(live.Renditions) == 0 {
		return false, nil
	}
	if live.Playlist != prefix+objstore.HLSDir+"/master.m3u8" {
		return false, permanent("bad payload: live playlist %q is not the asset's", live.Playlist)
	}
	_, err := r.store.Stat(ctx, live.Playlist)
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		j.log.Warn("live renditions missing from the store; transcoding the recording", "playlist", live.Playlist)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("stat live playlist: %w", err)
	}
	return true, nil
}

// prepareFromLive is prepare for a recording whose live renditions are
// the asset's ladder already: only the thumbnail and the storyboard are
// made from the source (one decode, no encode of video), and uploaded
// beside them.
func (r *Runner) prepareFromLive(ctx context.Context, j *jobRun, in prepareInput, live *protocol.LiveRenditions, ph phase) (protocol.MediaResult, error) {
	dur := in.probe.Duration
	tilesDir := filepath.Join(j.dir, "tiles")
	outDir := filepath.Join(j.dir, "out")
	for _, d := range []string{tilesDir, outDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return protocol.MediaResult{}, err
		}
	}
	plan := planStoryboard(dur, in.interval)
	ffin := ffmpegInput(in.input)
	args := []string{"-hide_banner", "-loglevel", "warning", "-nostdin", "-y", "-progress", "pipe:1", "-nostats"}
	if plan.intervalMS >= keyframeTilesMS {
		args = append(args, "-skip_frame", "nokey")
	}
	args = append(args, "-i", ffin)
	var err error
	if isHTTP(in.input) {
		if args, err = withInputOptions(args, ffin, httpInputOptions); err != nil {
			return protocol.MediaResult{}, fmt.Errorf("storyboard: %w", err)
		}
	}
	args = append(args, plan.outputArgs(tilesDir)...)
	j.log.Info("keeping the live renditions; making thumbnail and storyboard", "duration", dur,
		"renditions", len(live.Renditions), "storyboard_interval_ms", plan.intervalMS)
	err = r.runFFmpeg(ctx, j, ffmpegRun{args: args, stall: stallTimeout, onProgress: ph.sub(0, 80).ffmpeg(dur)})
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("storyboard tiles: %w", err)
	}
	if err := r.posterFrame(ctx, j, in.input, dur, filepath.Join(outDir, objstore.ThumbnailFile)); err != nil {
		return protocol.MediaResult{}, err
	}
	ph.sub(0, 85).set(1)
	board, err := r.makeStoryboard(ctx, j, tilesDir, outDir, plan, dur)
	if err != nil {
		return protocol.MediaResult{}, err
	}
	ph.sub(0, 90).set(1)
	var files []upload
	for _, name := range []string{objstore.ThumbnailFile, objstore.StoryboardImageFile, objstore.StoryboardVTTFile} {
		p := filepath.Join(outDir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return protocol.MediaResult{}, err
		}
		files = append(files, upload{key: in.prefix + name, path: p, size: fi.Size()})
	}
	if err := r.uploadAll(ctx, [][]upload{files}, ph.sub(90, 100)); err != nil {
		return protocol.MediaResult{}, err
	}
	board.Image, board.VTT = in.prefix+objstore.StoryboardImageFile, in.prefix+objstore.StoryboardVTTFile
	return protocol.MediaResult{
		Duration:   math.Round(dur*1000) / 1000,
		Tracks:     in.probe.Tracks,
		Renditions: live.Renditions,
		Playlist:   live.Playlist,
		Thumbnail:  in.prefix + objstore.ThumbnailFile,
		Storyboard: &board,
		FromLive:   true,
	}, nil
}
