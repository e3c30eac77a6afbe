package mediajobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// clipTolerance is how far past the source's probed duration a clip may
// end: players and editors round the end up.
const clipTolerance = 0.5

// Shares of a clip job's progress (percent).
const (
	shareCut    = 15
	shareCutPut = 17
)

// clip runs a clip job: [Start, End) of the source becomes the new
// asset's source.mp4, which is then prepared as a vod job would be.
func (r *Runner) clip(ctx context.Context, j *jobRun, c protocol.ClipJob, ttl time.Duration) (protocol.MediaResult, error) {
	if invalidSeconds(c.Start) || invalidSeconds(c.End) || c.End <= c.Start {
		return protocol.MediaResult{}, permanent("clip range [%v, %v): want 0 <= start < end", c.Start, c.End)
	}
	dest := c.Prefix + objstore.SourceFile
	if dest == c.SourceKey {
		return protocol.MediaResult{}, permanent("clip would overwrite its own source %s", c.SourceKey)
	}
	ph := j.prog.whole()

	if _, err := r.store.Stat(ctx, c.SourceKey); errors.Is(err, objstore.ErrNotFound) {
		return protocol.MediaResult{}, permanent("source %s not found", c.SourceKey)
	} else if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("stat source: %w", err)
	}
	presigned, err := r.store.PresignGet(ctx, c.SourceKey, ttl)
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("presign source: %w", err)
	}
	j.red.add(presigned, "source")
	url, release, err := r.localInput(presigned, j.red)
	if err != nil {
		return protocol.MediaResult{}, err
	}
	defer release()
	src, err := r.probeSource(ctx, j, url)
	if err != nil {
		return protocol.MediaResult{}, err
	}
	if c.Start >= src.Duration || c.End > src.Duration+clipTolerance {
		return protocol.MediaResult{}, permanent("clip range [%s, %s) is outside the source's %s s", secs(c.Start), secs(c.End), secs(src.Duration))
	}
	end := min(c.End, src.Duration)
	ph.sub(0, 1).set(1)

	start := c.Start
	if !c.Reencode {
		// A stream copy must begin on a keyframe. Begin on the one nearest
		// the asked start (before or after it), so the clip is within half
		// a GOP of the length asked for rather than up to a whole GOP long.
		kfs, err := r.keyframes(ctx, url, j.red, c.Start-20, min(c.Start+20, end))
		if err != nil && ctx.Err() != nil {
			return protocol.MediaResult{}, ctx.Err()
		}
		if kf, ok := nearestKeyframe(kfs, c.Start, end); ok {
			// A hair past it, so that rounding cannot send the seek to
			// the keyframe before.
			start = kf + 0.002
		}
	}
	cut := filepath.Join(j.dir, "clip.mp4")
	args := clipArgs(ffmpegInput(url), start, end-start, c.Reencode, cut)
	j.log.Info("cutting clip", "start", c.Start, "keyframe", start, "end", end, "reencode", c.Reencode)
	err = r.runFFmpeg(ctx, j, ffmpegRun{args: args, stall: stallTimeout, onProgress: ph.sub(1, shareCut).ffmpeg(end - c.Start)})
	if err != nil {
		if !c.Reencode && strings.Contains(err.Error(), "Could not find tag for codec") {
			return protocol.MediaResult{}, permanent("the source's codecs cannot be copied into MP4; cut it with reencode: %w", err)
		}
		return protocol.MediaResult{}, fmt.Errorf("cut clip: %w", err)
	}
	probe, err := r.probeSource(ctx, j, cut)
	if err != nil {
		if IsPermanent(err) {
			return protocol.MediaResult{}, permanent("clip [%s, %s) has no playable video: %w", secs(c.Start), secs(end), err)
		}
		return protocol.MediaResult{}, err
	}
	sum, err := fileSHA256(cut)
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("cut clip: %w", err)
	}
	info, err := r.store.PutFile(ctx, dest, cut, objstore.PutOptions{SHA256: sum})
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("upload clip: %w", err)
	}
	ph.sub(0, shareCutPut).set(1)

	res, err := r.prepare(ctx, j, prepareInput{input: cut, probe: probe, prefix: c.Prefix}, ph.sub(shareCutPut, 100))
	if err != nil {
		return protocol.MediaResult{}, err
	}
	res.SourceKey, res.Size, res.SHA256 = dest, info.Size, sum
	return res, nil
}

// Encoder settings of a frame-accurate cut. The cut is transcoded again
// to the ladder, so it is encoded fast and close to losslessly.
const (
	clipPreset = "veryfast"
	clipCRF    = "18"
	clipAudio  = "192k"
)

// clipArgs returns ffmpeg's arguments to cut length seconds from start of
// input into an MP4 at out whose index is at the front. Seeking before the
// input makes a stream copy start at the keyframe at or before start (so
// the cut may begin up to a GOP early) and a re-encode start exactly
// there.
func clipArgs(input string, start, length float64, reencode bool, out string) []string {
	args := []string{"-hide_banner", "-loglevel", "warning", "-nostdin", "-y", "-progress", "pipe:1", "-nostats"}
	if isHTTP(input) {
		args = append(args, httpInputOptions...)
	}
	args = append(args, "-ss", secs(start), "-i", input, "-t", secs(length),
		"-map", "0:v:0", "-map", "0:a:0?")
	if reencode {
		args = append(args, "-c:v", "libx264", "-preset", clipPreset, "-crf", clipCRF, "-pix_fmt", "yuv420p",
			"-c:a", "aac", "-b:a", clipAudio)
	} else {
		args = append(args, "-c", "copy", "-avoid_negative_ts", "make_zero")
	}
	return append(args, "-movflags", "+faststart", "-f", "mp4", out)
}

// nearestKeyframe picks the keyframe closest to start that leaves at least
// a second before end; false when there is none (the cut then starts at
// the keyframe ffmpeg seeks to, at or before start).
func nearestKeyframe(kfs []float64, start, end float64) (float64, bool) {
	best, ok := 0.0, false
	for _, k := range kfs {
		if k < 0 || k > end-1 {
			continue
		}
		if !ok || math.Abs(k-start) < math.Abs(best-start) {
			best, ok = k, true
		}
	}
	return best, ok
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
