package mediajobs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/livestreams/livestreams/shared/objstore"
)

// Thumbnail limits.
const (
	thumbTimeout = 15 * time.Second
	// DefaultThumbnailWidth is the width of an asset's thumbnail.jpg and of
	// Thumbnail when asked for width 0; narrower sources keep their own.
	DefaultThumbnailWidth = 640
	// MaxThumbnailWidth caps what Thumbnail is asked for.
	MaxThumbnailWidth = 1920
	// defaultThumbAt is the latest an asset's thumbnail is taken from
	// (a quarter of the way in for shorter media): past intros and black
	// first frames, early enough to exist.
	defaultThumbAt = 10.0
)

// Thumbnail grabs the video frame at `at` seconds of input (an http URL or
// a path) as a JPEG at most width pixels wide (0: DefaultThumbnailWidth),
// never upscaled. It gives up after 15 s. A time past the end fails with
// ErrNoFrame.
func (r *Runner) Thumbnail(ctx context.Context, input string, at float64, width int) ([]byte, error) {
	if math.IsNaN(at) || math.IsInf(at, 0) || at < 0 || at > maxDuration {
		return nil, fmt.Errorf("thumbnail at %v s: want a time in the media", at)
	}
	if width <= 0 {
		width = DefaultThumbnailWidth
	}
	width = min(width, MaxThumbnailWidth)
	red := &redactor{}
	red.add(input, "source")
	input, release, err := r.localInput(input, red)
	if err != nil {
		return nil, fmt.Errorf("thumbnail: %w", err)
	}
	defer release()
	dir, err := os.MkdirTemp(r.workDir, "thumb-*")
	if err != nil {
		return nil, fmt.Errorf("thumbnail: %w", err)
	}
	defer os.RemoveAll(dir)
	j := &jobRun{dir: dir, red: red, log: redactingLogger(r.log, red)}
	out := filepath.Join(dir, objstore.ThumbnailFile)
	if err := r.grabFrame(ctx, j, input, at, width, out); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, red.wrap(err)
	}
	return os.ReadFile(out)
}

// grabFrame writes the frame at `at` seconds of input to out as a JPEG.
// The seek is before the input, so ffmpeg reads from the keyframe before
// `at` only (over http: a few range requests), and decodes up to `at`
// exactly.
func (r *Runner) grabFrame(ctx context.Context, j *jobRun, input string, at float64, width int, out string) error {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}
	if isHTTP(input) {
		args = append(args, httpInputOptions...)
	}
	args = append(args, "-ss", secs(at), "-i", ffmpegInput(input),
		"-map", "0:v:0", "-frames:v", "1",
		"-vf", fmt.Sprintf("scale=w='min(%d,iw)':h=-2", width),
		"-pix_fmt", "yuvj420p", "-q:v", "3", "-f", "image2", "-update", "1", out)
	if err := r.runFFmpeg(ctx, j, ffmpegRun{args: args, timeout: thumbTimeout}); err != nil {
		return fmt.Errorf("thumbnail at %ss: %w", secs(at), err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		return fmt.Errorf("thumbnail at %ss: %w", secs(at), ErrNoFrame)
	}
	return nil
}

// posterFrame writes an asset's thumbnail: at min(duration/4, 10 s), or
// the first frame if the video ends before that.
func (r *Runner) posterFrame(ctx context.Context, j *jobRun, input string, duration float64, out string) error {
	err := r.grabFrame(ctx, j, input, min(duration/4, defaultThumbAt), DefaultThumbnailWidth, out)
	if errors.Is(err, ErrNoFrame) {
		err = r.grabFrame(ctx, j, input, 0, DefaultThumbnailWidth, out)
	}
	return err
}
