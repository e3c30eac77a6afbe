package mediajobs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// vod runs a vod or recording-vod job: the source in object storage,
// read through a presigned URL (behind the loopback proxy), becomes the asset's HLS ladder, thumbnail
// and storyboard. A recording whose live renditions the edge uploaded
// (VODJob.Live, found in the store) keeps them as its ladder and gets only
// the thumbnail and storyboard.
func (r *Runner) vod(ctx context.Context, j *jobRun, v protocol.VODJob, ttl time.Duration) (protocol.MediaResult, error) {
	if v.MaxSourceBytes < 0 {
		return protocol.MediaResult{}, permanent("bad payload: max_source_bytes %d is negative", v.MaxSourceBytes)
	}
	if invalidSeconds(v.StoryboardInterval) {
		return protocol.MediaResult{}, permanent("bad payload: storyboard_interval %v: want seconds, or 0 to pick", v.StoryboardInterval)
	}
	reject := func(err error) (protocol.MediaResult, error) {
		return protocol.MediaResult{}, r.reject(ctx, j, v, err)
	}
	ph := j.prog.whole()

	info, err := r.store.Stat(ctx, v.SourceKey)
	if errors.Is(err, objstore.ErrNotFound) {
		return reject(permanent("source %s not found", v.SourceKey))
	}
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("stat source: %w", err)
	}
	if v.MaxSourceBytes > 0 && info.Size > v.MaxSourceBytes {
		return reject(permanent("source is %s, over the upload limit of %s", humanBytes(info.Size), humanBytes(v.MaxSourceBytes)))
	}
	presigned, err := r.store.PresignGet(ctx, v.SourceKey, ttl)
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("presign source: %w", err)
	}
	j.red.add(presigned, "source")
	url, release, err := r.localInput(presigned, j.red)
	if err != nil {
		return protocol.MediaResult{}, err
	}
	defer release()
	probe, err := r.probeSource(ctx, j, url)
	if err != nil {
		if IsPermanent(err) {
			return reject(err)
		}
		return protocol.MediaResult{}, err
	}
	ph.sub(0, 1).set(1)

	in := prepareInput{input: url, probe: probe, prefix: v.Prefix, interval: v.StoryboardInterval}
	fromLive, err := r.liveReady(ctx, j, v.Live, v.Prefix)
	if err != nil {
		return protocol.MediaResult{}, err
	}
	var res protocol.MediaResult
	if fromLive {
		res, err = r.prepareFromLive(ctx, j, in, v.Live, ph.sub(1, 100))
	} else {
		res, err = r.prepare(ctx, j, in, ph.sub(1, 100))
	}
	if err != nil {
		return protocol.MediaResult{}, err
	}
	res.SourceKey, res.Size, res.SHA256 = v.SourceKey, info.Size, info.SHA256
	return res, nil
}

// reject deletes a refused upload's objects when the job asks for it. If
// that fails the error is no longer permanent: a retry refuses the source
// again and deletes again.
func (r *Runner) reject(ctx context.Context, j *jobRun, v protocol.VODJob, err error) error {
	if !v.DeleteRejected || !IsPermanent(err) {
		return err
	}
	if derr := r.store.DeletePrefix(ctx, v.Prefix); derr != nil {
		return fmt.Errorf("%s (deleting the rejected upload failed: %w)", err.Error(), derr)
	}
	j.log.Info("deleted rejected upload", "prefix", v.Prefix, "reason", err.Error())
	return err
}

// probeSource probes a source and says, permanently, why it is not one
// this package can prepare.
func (r *Runner) probeSource(ctx context.Context, j *jobRun, input string) (probeResult, error) {
	p, err := r.probe(ctx, input, j.red)
	var pf *probeFailure
	switch {
	case errors.As(err, &pf) && pf.Media:
		return p, permanent("source is not a media file (ffprobe: %s)", pf.Reason)
	case err != nil:
		return p, fmt.Errorf("probe source: %w", err)
	case p.Video == nil && !p.HasAudio:
		return p, permanent("source has no audio or video (format %s)", p.Format)
	case p.Video == nil:
		return p, permanent("source has audio only; an asset needs video")
	case p.Duration <= 0:
		return p, permanent("source has no duration (format %s): a still image is not a video", p.Format)
	}
	return p, nil
}

// prepareInput is a probed source to prepare.
type prepareInput struct {
	input    string // http URL or local path
	probe    probeResult
	prefix   string
	interval float64 // storyboard seconds; 0 picks
}

// Shares of a preparation's progress (percent), by how long each step
// takes: the transcode is nearly all of it.
const (
	shareTranscode  = 90
	shareThumbnail  = 91
	shareStoryboard = 93
)

// prepare transcodes in.input to the ladder (writing the storyboard tiles
// in the same run), grabs the thumbnail, assembles the storyboard and
// uploads everything under in.prefix.
func (r *Runner) prepare(ctx context.Context, j *jobRun, in prepareInput, ph phase) (protocol.MediaResult, error) {
	dur := in.probe.Duration
	hlsDir := filepath.Join(j.dir, "hls")
	tilesDir := filepath.Join(j.dir, "tiles")
	outDir := filepath.Join(j.dir, "out")
	for _, d := range []string{tilesDir, outDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return protocol.MediaResult{}, err
		}
	}
	plan := planStoryboard(dur, in.interval)
	ffin := ffmpegInput(in.input)
	args, err := transcode.Build(transcode.Params{
		Mode: transcode.VOD, Input: ffin, Source: in.probe.source(), OutDir: hlsDir, Progress: true,
	})
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("transcode: %w", err)
	}
	if isHTTP(in.input) {
		if args, err = withInputOptions(args, ffin, httpInputOptions); err != nil {
			return protocol.MediaResult{}, fmt.Errorf("transcode: %w", err)
		}
	}
	args = append(args, plan.outputArgs(tilesDir)...)
	j.log.Info("transcoding", "duration", dur, "width", in.probe.Video.Width, "height", in.probe.Video.Height,
		"audio", in.probe.HasAudio, "storyboard_interval_ms", plan.intervalMS)
	err = r.runFFmpeg(ctx, j, ffmpegRun{args: args, stall: stallTimeout, onProgress: ph.sub(0, shareTranscode).ffmpeg(dur)})
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("transcode: %w", err)
	}
	renditions, err := readLadder(hlsDir)
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("transcode: %w", err)
	}

	if err := r.posterFrame(ctx, j, in.input, dur, filepath.Join(outDir, objstore.ThumbnailFile)); err != nil {
		return protocol.MediaResult{}, err
	}
	ph.sub(0, shareThumbnail).set(1)
	board, err := r.makeStoryboard(ctx, j, tilesDir, outDir, plan, dur)
	if err != nil {
		return protocol.MediaResult{}, err
	}
	ph.sub(0, shareStoryboard).set(1)

	hlsPrefix := in.prefix + objstore.HLSDir + "/"
	waves, err := hlsUploads(hlsDir, hlsPrefix)
	if err != nil {
		return protocol.MediaResult{}, err
	}
	for _, name := range []string{objstore.ThumbnailFile, objstore.StoryboardImageFile, objstore.StoryboardVTTFile} {
		p := filepath.Join(outDir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return protocol.MediaResult{}, err
		}
		waves[0] = append(waves[0], upload{key: in.prefix + name, path: p, size: fi.Size()})
	}
	if err := r.uploadAll(ctx, waves[:], ph.sub(shareStoryboard, 100)); err != nil {
		return protocol.MediaResult{}, err
	}

	board.Image, board.VTT = in.prefix+objstore.StoryboardImageFile, in.prefix+objstore.StoryboardVTTFile
	return protocol.MediaResult{
		Duration:   math.Round(dur*1000) / 1000,
		Tracks:     in.probe.Tracks,
		Renditions: renditions,
		Playlist:   hlsPrefix + "master.m3u8",
		Thumbnail:  in.prefix + objstore.ThumbnailFile,
		Storyboard: &board,
	}, nil
}

// invalidSeconds reports a payload time that is negative or not a number.
func invalidSeconds(s float64) bool {
	return math.IsNaN(s) || math.IsInf(s, 0) || s < 0
}
