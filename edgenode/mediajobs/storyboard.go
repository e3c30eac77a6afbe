package mediajobs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Storyboard geometry. Tiles fit a 160x320 box (160 wide for anything
// from square to 1:2 portrait) with even sides; the sheet has up to 10
// columns.
const (
	tileBoxWidth  = 160
	tileBoxHeight = 320
	maxColumns    = 10
	// autoTiles is the most tiles a storyboard gets when the job does not
	// set the interval; maxTiles bounds a set interval.
	autoTiles = 100
	maxTiles  = 1000
	// minIntervalMS bounds a set interval from below.
	minIntervalMS = 100
	tilePattern   = "tile_%05d.png"
	spriteTimeout = time.Minute
)

// storyboardPlan is decided before the transcode, which also writes the
// tiles: one every intervalMS of media time.
type storyboardPlan struct {
	intervalMS int64
}

// planStoryboard picks the interval between tiles: requested (seconds)
// when set, else whole seconds, at least 1, so that there are at most
// autoTiles; never so short that there would be more than maxTiles.
func planStoryboard(duration, requested float64) storyboardPlan {
	durMS := max(int64(math.Round(duration*1000)), 1)
	var ms int64
	if requested > 0 {
		ms = max(int64(math.Round(requested*1000)), minIntervalMS, ceilDiv(durMS, maxTiles))
	} else {
		ms = max(ceilDiv(durMS, autoTiles*1000), 1) * 1000
	}
	return storyboardPlan{intervalMS: ms}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// outputArgs is the extra ffmpeg output that writes the tiles as PNG
// files into dir, in the same run (and the same decode) as the transcode.
// eof_action=pass keeps the tile of a last interval the video only
// begins, which the fps filter would otherwise drop.
func (p storyboardPlan) outputArgs(dir string) []string {
	return []string{
		"-map", "0:v:0",
		"-vf", fmt.Sprintf("fps=fps=1000/%d:eof_action=pass,scale=w=%d:h=%d:force_original_aspect_ratio=decrease:force_divisible_by=2",
			p.intervalMS, tileBoxWidth, tileBoxHeight),
		"-c:v", "png", "-f", "image2", filepath.Join(dir, tilePattern),
	}
}

// storyboardLayout is the sheet made from the tiles ffmpeg wrote.
type storyboardLayout struct {
	tiles         int // tiles on the sheet, each with one cue
	columns, rows int
	tileW, tileH  int
	intervalMS    int64
	durationMS    int64
}

// layoutStoryboard places the tiles ffmpeg produced. A tile that would
// start at or after the end (fps rounding can add one) is left out; when
// there are fewer tiles than the duration needs, the last cue runs to the
// end.
func layoutStoryboard(produced, tileW, tileH int, intervalMS int64, duration float64) (storyboardLayout, error) {
	durMS := int64(math.Round(duration * 1000))
	if produced <= 0 || tileW <= 0 || tileH <= 0 || intervalMS <= 0 || durMS <= 0 {
		return storyboardLayout{}, fmt.Errorf("storyboard of %d tiles of %dx%d every %d ms over %d ms", produced, tileW, tileH, intervalMS, durMS)
	}
	n := int(min(int64(produced), ceilDiv(durMS, intervalMS)))
	cols := min(n, maxColumns)
	return storyboardLayout{
		tiles: n, columns: cols, rows: (n + cols - 1) / cols,
		tileW: tileW, tileH: tileH, intervalMS: intervalMS, durationMS: durMS,
	}, nil
}

func (l storyboardLayout) size() (int, int) { return l.columns * l.tileW, l.rows * l.tileH }

// writeVTT writes the WebVTT cues: tile i covers [i*interval,
// (i+1)*interval), the last one up to the duration, each pointing at its
// tile in image by a media fragment (image#xywh=x,y,w,h), as video.js,
// Vidstack and Mux Player read them.
func (l storyboardLayout) writeVTT(w io.Writer, image string) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("WEBVTT\n")
	for i := range l.tiles {
		start := int64(i) * l.intervalMS
		end := start + l.intervalMS
		if i == l.tiles-1 {
			end = l.durationMS
		}
		x, y := (i%l.columns)*l.tileW, (i/l.columns)*l.tileH
		fmt.Fprintf(bw, "\n%s --> %s\n%s#xywh=%d,%d,%d,%d\n", vttTime(start), vttTime(end), image, x, y, l.tileW, l.tileH)
	}
	return bw.Flush()
}

// vttTime formats milliseconds as HH:MM:SS.mmm.
func vttTime(ms int64) string {
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// makeStoryboard turns the tiles the transcode wrote into outDir's
// storyboard.jpg and storyboard.vtt. It checks that every tile lies inside
// the sheet ffmpeg actually made.
func (r *Runner) makeStoryboard(ctx context.Context, j *jobRun, tilesDir, outDir string, plan storyboardPlan, duration float64) (protocol.Storyboard, error) {
	produced, err := countTiles(tilesDir)
	if err != nil {
		return protocol.Storyboard{}, err
	}
	if produced == 0 {
		return protocol.Storyboard{}, errors.New("storyboard: ffmpeg wrote no tiles")
	}
	tw, th, err := r.imageSize(ctx, j, filepath.Join(tilesDir, fmt.Sprintf(tilePattern, 1)))
	if err != nil {
		return protocol.Storyboard{}, fmt.Errorf("storyboard tile: %w", err)
	}
	l, err := layoutStoryboard(produced, tw, th, plan.intervalMS, duration)
	if err != nil {
		return protocol.Storyboard{}, err
	}
	sprite := filepath.Join(outDir, objstore.StoryboardImageFile)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-framerate", "1", "-start_number", "1", "-i", filepath.Join(tilesDir, tilePattern),
		// Scaling every tile to the first one's size keeps the grid exact
		// even if the source changed resolution midway.
		"-vf", fmt.Sprintf("scale=%d:%d,tile=%dx%d:nb_frames=%d", tw, th, l.columns, l.rows, l.tiles),
		"-frames:v", "1", "-pix_fmt", "yuvj420p", "-q:v", "4", "-f", "image2", "-update", "1", sprite}
	if err := r.runFFmpeg(ctx, j, ffmpegRun{args: args, timeout: spriteTimeout}); err != nil {
		return protocol.Storyboard{}, fmt.Errorf("storyboard sprite: %w", err)
	}
	sw, sh, err := r.imageSize(ctx, j, sprite)
	if err != nil {
		return protocol.Storyboard{}, fmt.Errorf("storyboard sprite: %w", err)
	}
	if w, h := l.size(); sw < w || sh < h {
		return protocol.Storyboard{}, fmt.Errorf("storyboard sprite is %dx%d, want %dx%d for %d tiles of %dx%d", sw, sh, w, h, l.tiles, tw, th)
	}
	f, err := os.Create(filepath.Join(outDir, objstore.StoryboardVTTFile))
	if err != nil {
		return protocol.Storyboard{}, fmt.Errorf("storyboard: %w", err)
	}
	if err := l.writeVTT(f, objstore.StoryboardImageFile); err != nil {
		f.Close()
		return protocol.Storyboard{}, fmt.Errorf("storyboard: %w", err)
	}
	if err := f.Close(); err != nil {
		return protocol.Storyboard{}, fmt.Errorf("storyboard: %w", err)
	}
	return protocol.Storyboard{
		TileWidth: tw, TileHeight: th, Columns: l.columns, Rows: l.rows,
		Interval: float64(l.intervalMS) / 1000,
	}, nil
}

// countTiles counts the tile files, which ffmpeg numbers from 1 without
// gaps.
func countTiles(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("storyboard tiles: %w", err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "tile_") && strings.HasSuffix(e.Name(), ".png") {
			n++
		}
	}
	// Trust only the unbroken run from 1: the sprite reads them in order.
	for i := 1; i <= n; i++ {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf(tilePattern, i))); err != nil {
			return i - 1, nil
		}
	}
	return n, nil
}

// imageSize probes the pixel size of an image ffmpeg wrote.
func (r *Runner) imageSize(ctx context.Context, j *jobRun, path string) (int, int, error) {
	p, err := r.probe(ctx, path, j.red)
	if err != nil {
		return 0, 0, err
	}
	if p.Video == nil {
		return 0, 0, fmt.Errorf("%s: no image", filepath.Base(path))
	}
	return p.Video.Width, p.Video.Height, nil
}

// secs formats seconds for an ffmpeg option, to the millisecond.
func secs(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }
