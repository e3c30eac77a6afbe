package llhls

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rendition is one rung as the master playlist announces it.
type Rendition struct {
	Name      string // the rung's directory: "720p"
	Bandwidth int    // bits per second, peak, audio included
}

// Config describes one session's packaging.
type Config struct {
	Dir        string // the session's HLS directory (master.m3u8 and a directory per rung)
	Tag        string // goes into every file name, unique per session ("" = none)
	Renditions []Rendition

	// TargetDuration is the segment length the encoder's keyframes are
	// placed for; a segment is cut at the first keyframe once this much is
	// buffered (less a tenth, for rounding). It is the playlists'
	// EXT-X-TARGETDURATION, in whole seconds, rounded up.
	TargetDuration time.Duration
	// PartTarget, when above zero, turns on LL-HLS: parts of at most this
	// long (EXT-X-PART-INF:PART-TARGET), preload hints, server control.
	// It expects the input in fragments of about one frame each
	// (-movflags frag_every_frame); without it, fragments of whole GOPs
	// (frag_keyframe) make one segment each as soon as they arrive.
	PartTarget time.Duration
	// Window is how many segments a live media playlist lists (at least
	// 3); older segments leave the playlist but stay on disk.
	Window int

	Logger *slog.Logger

	// Now is the clock of EXT-X-PROGRAM-DATE-TIME and of the master's
	// pacing; nil is time.Now.
	Now func() time.Time

	// OnPlaylist, when set, is called with every playlist version right
	// after it is written (name relative to Dir: "master.m3u8",
	// "720p/index.m3u8"), in order, with the packager's lock held: a
	// test sees every version a session writes.
	OnPlaylist func(name string, playlist []byte)
}

// Packager packages every rung of one session. Run it once with a reader
// per rendition, in Config.Renditions order.
type Packager struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	rungs  []*rung
	master bool
	start  time.Time // the program date-time of every rung's first segment
	// origin is the media time (decode time) of the first segment that
	// set start: a segment's date is start plus how far its media time
	// is past origin, the same instant in every rung (see rung.timed).
	origin time.Duration
	// segmentsAt is when every rung first had a segment (the master may
	// wait for the pace a little longer).
	segmentsAt time.Time
	changed    chan struct{} // closed and replaced at every playlist write
}

// New checks cfg and returns a Packager.
func New(cfg Config) (*Packager, error) {
	var errs []error
	if cfg.Dir == "" {
		errs = append(errs, errors.New("directory is empty"))
	}
	if len(cfg.Renditions) == 0 {
		errs = append(errs, errors.New("no renditions"))
	}
	if cfg.TargetDuration < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("target duration %v is below 100ms", cfg.TargetDuration))
	}
	if cfg.PartTarget < 0 || cfg.PartTarget > 0 && cfg.PartTarget*2 > cfg.TargetDuration {
		errs = append(errs, fmt.Errorf("part target %v must be at most half the target duration %v", cfg.PartTarget, cfg.TargetDuration))
	}
	for _, r := range cfg.Renditions {
		if r.Name == "" || strings.ContainsAny(r.Name, "/\\.") {
			errs = append(errs, fmt.Errorf("rendition name %q", r.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("llhls config: %w", err)
	}
	cfg.Window = max(cfg.Window, 3)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Packager{cfg: cfg, log: cfg.Logger, changed: make(chan struct{})}
	for i, r := range cfg.Renditions {
		p.rungs = append(p.rungs, &rung{p: p, index: i, name: r.Name, dir: filepath.Join(cfg.Dir, r.Name)})
	}
	return p, nil
}

// Run packages inputs[i] as Config.Renditions[i] until every input ends
// (ffmpeg exited or closed its pipes), then finalizes the playlists
// (#EXT-X-ENDLIST). A malformed input stops that rung's packaging but is
// still drained, so that ffmpeg never blocks on a full pipe. Cancelling
// ctx does not stop the reads (ffmpeg's exit does); it only stops logging
// errors of a session being torn down.
func (p *Packager) Run(ctx context.Context, inputs []io.Reader) error {
	if len(inputs) != len(p.rungs) {
		return fmt.Errorf("llhls: %d inputs for %d renditions", len(inputs), len(p.rungs))
	}
	for _, r := range p.rungs {
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			return fmt.Errorf("llhls: %w", err)
		}
	}
	errs := make([]error, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.rungs[i].run(in)
			if errs[i] != nil && ctx.Err() == nil {
				p.log.Warn("package rendition", "rendition", p.rungs[i].name, "err", errs[i])
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *Packager) now() time.Time { return p.cfg.Now() }

// Changed returns a channel closed at the next playlist write (any rung,
// or the master).
func (p *Packager) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// notifyLocked wakes Changed's waiters.
func (p *Packager) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Master returns the master playlist; "" until every rung has a segment.
func (p *Packager) masterLocked() string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for i, r := range p.rungs {
		codecs := make([]string, 0, 2)
		w, h := 0, 0
		for _, t := range r.tracks {
			if t.codec != "" {
				codecs = append(codecs, t.codec)
			}
			if t.handler == handlerVideo {
				w, h = t.width, t.height
			}
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d", p.cfg.Renditions[i].Bandwidth)
		if w > 0 && h > 0 {
			fmt.Fprintf(&b, ",RESOLUTION=%dx%d", w, h)
		}
		if len(codecs) > 0 {
			fmt.Fprintf(&b, ",CODECS=\"%s\"", strings.Join(codecs, ","))
		}
		fmt.Fprintf(&b, "\n%s/index.m3u8\n", r.name)
	}
	return b.String()
}

// Pacing. A session's ffmpeg starts with a backlog (what the ingest
// buffered while it probed the source, and what queued while ffmpeg
// started) and works through it faster than real time. A player given
// the master during that burst starts behind an edge that then runs
// ahead of the clock, and hls.js never catches up (it plays at 1x), so
// the backlog would stay in every viewer's latency for the whole
// session. The master therefore waits until every rung produces media at
// the pace of the clock (no more than paceSlack more media than wall
// time over the last paceWindow), or masterHoldSegments target durations
// after every rung has a segment (for a source sent faster than real
// time), or once the session ends.
const (
	paceWindow         = 500 * time.Millisecond
	paceSlack          = 150 * time.Millisecond
	masterHoldSegments = 2
)

// paceSample is the media a rung had produced when a unit arrived.
type paceSample struct {
	at    time.Time
	media time.Duration
}

// maybeMasterLocked writes the master playlist once every rung has a
// segment and keeps the clock's pace: a player given it can start at
// once, at the live edge.
func (p *Packager) maybeMasterLocked() error {
	if p.master {
		return nil
	}
	now := p.now()
	ended := false
	for _, r := range p.rungs {
		if len(r.segments) == 0 {
			return nil
		}
		ended = ended || r.ended
	}
	if p.segmentsAt.IsZero() {
		p.segmentsAt = now
	}
	if !ended && now.Sub(p.segmentsAt) < masterHoldSegments*p.cfg.TargetDuration {
		for _, r := range p.rungs {
			if !r.pacedLocked(now) {
				return nil
			}
		}
	}
	p.master = true
	for _, r := range p.rungs {
		r.pace = nil
	}
	if err := p.writePlaylistLocked("master.m3u8", []byte(p.masterLocked())); err != nil {
		return fmt.Errorf("write master playlist: %w", err)
	}
	return nil
}

// writePlaylistLocked writes a playlist and tells who waits for one.
func (p *Packager) writePlaylistLocked(name string, data []byte) error {
	if err := writeFile(filepath.Join(p.cfg.Dir, filepath.FromSlash(name)), data); err != nil {
		return err
	}
	if p.cfg.OnPlaylist != nil {
		p.cfg.OnPlaylist(name, data)
	}
	p.notifyLocked()
	return nil
}

// writeFile writes data under a temporary name and renames it into place,
// so that nobody reads half of it.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Names of what a rung writes, as ffmpeg's HLS muxer named them.
func initName(tag, rung string, several bool) string {
	switch {
	case tag == "":
		return "init.mp4"
	case several:
		return "init_" + tag + "_" + rung + ".mp4"
	default:
		return "init_" + tag + ".mp4"
	}
}

func segmentName(tag string, msn int) string {
	if tag == "" {
		return fmt.Sprintf("seg_%05d.m4s", msn)
	}
	return fmt.Sprintf("seg_%s_%05d.m4s", tag, msn)
}

func partName(tag string, msn, part int) string {
	if tag == "" {
		return fmt.Sprintf("part_%05d_%d.m4s", msn, part)
	}
	return fmt.Sprintf("part_%s_%05d_%d.m4s", tag, msn, part)
}

// seconds formats a duration for a playlist attribute.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 5, 64)
}

// readBoxes reads top-level boxes until the end of in.
func readBoxes(in io.Reader, each func(box) error) error {
	br := bufio.NewReaderSize(in, 64<<10)
	for {
		b, err := readBox(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := each(b); err != nil {
			return err
		}
	}
}
