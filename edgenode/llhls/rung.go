package llhls

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// partsKept is how many complete segments keep their parts in the
// playlist besides the current one's: parts further than three target
// durations from the end should go (RFC 8216bis 6.2.2), and a player
// starting further back loads whole segments until it reaches them. One
// and no more: hls.js (1.7), once it has switched rendition in the middle
// of a segment, goes on to the next segment only once the playlist no
// longer lists parts of that segment it did not load; with three kept it
// stalled for seconds at most switches in standard latency (a stall it
// then keeps in its latency for good). The cost: a player joining
// PART-HOLD-BACK behind the edge of a standard stream may start at the
// segment before, about a second further back.
const partsKept = 1

// partFilesKept is how many segments beyond those listed keep their part
// files, for a viewer a playlist or two behind.
const partFilesKept = 3

type part struct {
	dur         time.Duration
	independent bool
}

type segment struct {
	msn   int
	dur   time.Duration
	parts []part    // nil once dropped from the playlist
	at    time.Time // when its first frame reached the packager
}

// rung is one rendition's packaging state. Its fields are guarded by the
// Packager's mu, except what only run's goroutine touches (marked).
type rung struct {
	p     *Packager
	index int
	name  string
	dir   string

	tracks   []track
	segments []segment // complete, oldest first; those before the window too
	partsOff int       // segments[:partsOff] have had their part files removed

	// The segment being built.
	msn     int
	segDur  time.Duration
	segBuf  []byte
	parts   []part
	started bool
	segAt   time.Time

	// The part being built (run's goroutine only until emitted).
	pendBuf   []byte
	pendDur   time.Duration
	pendIndep bool
	pendVideo bool

	// Media time, from the video fragments' decode times (tfdt): where
	// the part being built starts, where it ends as far as known, and
	// where the segment being built starts. Durations summed from the
	// samples carry ffmpeg's guess of each fragment's last frame and
	// wander a frame or two apart between rungs within a minute; the
	// decode times are the source's own and the same in every rung, so
	// parts, segments and their dates follow them (players align
	// renditions by the dates when they switch).
	timed              bool
	pendStart, pendEnd time.Duration
	segStart           time.Duration
	// shift is how much later than its decode time the last keyframe
	// is presented (B-frames: 0 in a copied source without them, a frame
	// or two in an encoded rung), segShift the segment's own: a date is
	// the presentation time's, which is what the same frame shares
	// across rungs.
	shift, segShift time.Duration

	ended bool

	// The media produced so far and recent samples of it (pacing).
	media time.Duration
	pace  []paceSample

	// run's goroutine only.
	ftyp      []byte
	moof      []byte
	frags     []fragment
	videoID   uint32
	videoTime uint32 // timescale of the video track
	lastFrame time.Duration
}

// run reads one rendition's fMP4 to its end.
func (r *rung) run(in io.Reader) error {
	err := readBoxes(in, r.box)
	if err != nil {
		_, _ = io.Copy(io.Discard, in) // never leave ffmpeg blocked on the pipe
		err = fmt.Errorf("rendition %s: %w", r.name, err)
	}
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return errors.Join(err, r.finishLocked())
}

func (r *rung) box(b box) error {
	switch b.typ {
	case "ftyp":
		r.ftyp = b.data
	case "moov":
		tracks, err := parseInit(b.body)
		if err != nil {
			return err
		}
		for _, t := range tracks {
			if t.handler == handlerVideo {
				r.videoID, r.videoTime = t.id, t.timescale
				break
			}
		}
		if r.videoID == 0 {
			return errors.New("no video track")
		}
		init := append(append([]byte(nil), r.ftyp...), b.data...)
		r.p.mu.Lock()
		defer r.p.mu.Unlock()
		r.tracks = tracks
		if err := writeFile(filepath.Join(r.dir, r.initName()), init); err != nil {
			return fmt.Errorf("write init segment: %w", err)
		}
	case "moof":
		if r.videoID == 0 {
			return errors.New("fragment before the init segment")
		}
		frags, err := parseMoof(b.body, r.tracks)
		if err != nil {
			return err
		}
		r.moof, r.frags = b.data, frags
	case "mdat":
		if r.moof == nil {
			return errors.New("mdat without a moof")
		}
		unit := append(r.moof, b.data...)
		r.moof = nil
		return r.fragment(unit, r.frags)
	}
	return nil // styp, sidx, free, mfra: nothing a playlist needs
}

func (r *rung) initName() string {
	return initName(r.p.cfg.Tag, r.name, len(r.p.rungs) > 1)
}

// fragment adds one moof+mdat to the part and segment being built,
// cutting them where they end.
func (r *rung) fragment(unit []byte, frags []fragment) (err error) {
	var video *fragment
	for i := range frags {
		if frags[i].trackID == r.videoID {
			video = &frags[i]
		}
	}
	var dur time.Duration
	sync := false
	if video != nil && video.samples > 0 {
		dur = mediaTime(int64(video.duration), r.videoTime)
		sync = video.sync
		r.lastFrame = dur / time.Duration(video.samples)
	}
	cfg := r.p.cfg
	lowLatency := cfg.PartTarget > 0

	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	var base time.Duration
	if video != nil && video.samples > 0 {
		base = mediaTime(int64(video.baseTime), r.videoTime)
		if sync {
			r.shift = mediaTime(video.offset, r.videoTime)
		}
		if !r.timed {
			r.timed, r.pendStart = true, base
		}
		// What is pending ends where this fragment starts.
		r.pendEnd = base
	}
	if !r.p.master {
		r.media += dur
		r.pace = append(r.pace, paceSample{at: r.p.now(), media: r.media})
		defer func() {
			if err == nil {
				err = r.p.maybeMasterLocked()
			}
		}()
	}
	if sync && r.segDur+r.pendDur >= cfg.TargetDuration*9/10 {
		// A keyframe once the segment is long enough: it starts the next.
		if err := r.closeSegmentLocked(); err != nil {
			return err
		}
	}
	if lowLatency && r.pendVideo && r.pendDur+dur > cfg.PartTarget {
		if err := r.emitPartLocked(); err != nil {
			return err
		}
	}
	if !r.pendVideo && video != nil {
		r.pendIndep = sync
		r.pendVideo = true
	}
	if r.segAt.IsZero() {
		// The unit's first frame reached ffmpeg's output about its
		// duration ago (a whole GOP in standard latency).
		r.segAt = r.p.now().Add(-dur)
	}
	r.pendBuf = append(r.pendBuf, unit...)
	r.pendDur += dur
	if video != nil && video.samples > 0 {
		// Until the next fragment tells, this one ends after its samples.
		r.pendEnd = base + dur
	}
	switch {
	case !lowLatency:
		// A fragment is a whole GOP: the segment is complete as soon as
		// it is long enough, a whole GOP earlier than at the next one.
		r.moveLocked()
		if r.segDur >= cfg.TargetDuration*9/10 {
			return r.closeSegmentLocked()
		}
	case r.pendVideo && r.pendDur+r.lastFrame > cfg.PartTarget:
		// The next frame would not fit: publish the part now rather than
		// a frame later.
		return r.emitPartLocked()
	}
	return nil
}

// maxTimingSkew is how far the decode times may disagree with the summed
// sample durations before the packager takes them for a jump in the
// source's timestamps and goes by the samples instead.
const maxTimingSkew = 250 * time.Millisecond

// moveLocked moves the pending bytes into the segment and returns their
// duration: from the decode times where they agree with the samples.
func (r *rung) moveLocked() time.Duration {
	d := r.pendDur
	if r.timed {
		if e := r.pendEnd - r.pendStart; e > 0 && (e-d).Abs() <= maxTimingSkew {
			d = e
		}
		if !r.started {
			r.segStart, r.segShift = r.pendStart, r.shift
		}
		// The next part starts where this one ends (resynchronised
		// after a jump).
		r.pendStart = r.pendEnd
	}
	r.segBuf = append(r.segBuf, r.pendBuf...)
	r.segDur += d
	r.started = true
	r.pendBuf, r.pendDur, r.pendIndep, r.pendVideo = nil, 0, false, false
	return d
}

// emitPartLocked writes the pending part and the playlist that lists it.
func (r *rung) emitPartLocked() error {
	if len(r.pendBuf) == 0 {
		return nil
	}
	name := partName(r.p.cfg.Tag, r.msn, len(r.parts))
	if err := writeFile(filepath.Join(r.dir, name), r.pendBuf); err != nil {
		return fmt.Errorf("write part: %w", err)
	}
	indep := r.pendIndep
	r.parts = append(r.parts, part{dur: r.moveLocked(), independent: indep})
	return r.writePlaylistLocked()
}

// closeSegmentLocked writes the segment being built and starts the next.
func (r *rung) closeSegmentLocked() error {
	var carry []byte
	switch {
	case r.ended:
		r.moveLocked() // the final playlist lists no parts
	case r.p.cfg.PartTarget > 0 && !r.pendVideo:
		// Audio that came after the segment's last frame: it goes with
		// the next segment's first part rather than be a part of no
		// duration.
		carry, r.pendBuf = r.pendBuf, nil
	case r.p.cfg.PartTarget > 0:
		if err := r.emitPartLocked(); err != nil {
			return err
		}
	default:
		r.moveLocked()
	}
	defer func() { r.pendBuf = append(carry, r.pendBuf...) }()
	if !r.started || r.segDur == 0 {
		return nil
	}
	if err := writeFile(filepath.Join(r.dir, segmentName(r.p.cfg.Tag, r.msn)), r.segBuf); err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	if r.p.start.IsZero() {
		r.p.start, r.p.origin = r.segAt, r.segStart+r.segShift
	}
	at := r.p.start // every rung's media starts at the same instant
	if n := len(r.segments); n > 0 {
		// Dates follow the media, not the arrivals' jitter: players
		// align renditions by them.
		at = r.segments[n-1].at.Add(r.segments[n-1].dur)
	}
	if r.timed {
		// The same media time is the same date in every rung.
		if exact := r.p.start.Add(r.segStart + r.segShift - r.p.origin); exact.Sub(at).Abs() <= maxTimingSkew {
			at = exact
		}
	}
	r.segments = append(r.segments, segment{msn: r.msn, dur: r.segDur, parts: r.parts, at: at})
	r.msn++
	r.segBuf, r.segDur, r.parts, r.started, r.segAt = nil, 0, nil, false, time.Time{}
	r.dropPartsLocked()
	// The master, if this was the last rung without a segment, follows
	// (fragment and finishLocked ask for it once the playlist lists it).
	return r.writePlaylistLocked()
}

// dropPartsLocked forgets the parts of segments no longer listing them
// and removes their files a few segments later.
func (r *rung) dropPartsLocked() {
	n := len(r.segments)
	for i := max(n-partsKept-1, 0); i >= 0 && i < n-partsKept; i-- {
		if r.segments[i].parts == nil {
			break
		}
		r.segments[i].parts = nil
	}
	for ; r.partsOff < n-partsKept-partFilesKept; r.partsOff++ {
		r.removeParts(r.segments[r.partsOff].msn)
	}
}

// removeParts removes the part files of segment msn.
func (r *rung) removeParts(msn int) {
	for i := 0; ; i++ {
		if err := os.Remove(filepath.Join(r.dir, partName(r.p.cfg.Tag, msn, i))); err != nil {
			return
		}
	}
}

// finishLocked closes the last segment and writes the final playlist,
// without parts: the session is over and its segments are all there.
func (r *rung) finishLocked() error {
	if r.ended {
		return nil
	}
	r.ended = true
	// The parts go first, so that once the final playlist is there
	// nothing else changes.
	for ; r.partsOff < len(r.segments); r.partsOff++ {
		r.removeParts(r.segments[r.partsOff].msn)
	}
	r.removeParts(r.msn)
	for i := range r.segments {
		r.segments[i].parts = nil
	}
	r.parts = nil
	n := len(r.segments)
	var err error
	if r.tracks != nil {
		err = r.closeSegmentLocked() // writes the final playlist if there was more
	}
	if len(r.segments) > 0 && len(r.segments) == n {
		err = errors.Join(err, r.writePlaylistLocked())
	}
	return errors.Join(err, r.p.maybeMasterLocked())
}

// targetSeconds is EXT-X-TARGETDURATION: the configured length in whole
// seconds, rounded up, and never below what a listed segment rounds to.
func (r *rung) targetSeconds() int {
	t := int(math.Ceil(r.p.cfg.TargetDuration.Seconds()))
	for _, s := range r.segments {
		t = max(t, int(math.Round(s.dur.Seconds())))
	}
	return t
}

// pacedLocked reports whether the rung's output keeps the clock's pace:
// over the last paceWindow it produced at most paceSlack more media than
// the time that passed. It forgets samples older than that window.
func (r *rung) pacedLocked(now time.Time) bool {
	i := 0
	for i+1 < len(r.pace) && now.Sub(r.pace[i+1].at) >= paceWindow {
		i++
	}
	r.pace = r.pace[i:]
	if len(r.pace) < 2 {
		return false
	}
	first, last := r.pace[0], r.pace[len(r.pace)-1]
	wall := now.Sub(first.at)
	if wall < paceWindow {
		return false
	}
	return last.media-first.media <= wall+paceSlack
}

// lastPart returns the last MSN and part index the playlist lists (for
// rendition reports and blocking reloads); part is -1 without parts.
func (r *rung) lastPart() (msn, part int) {
	if len(r.parts) > 0 {
		return r.msn, len(r.parts) - 1
	}
	if n := len(r.segments); n > 0 {
		return r.segments[n-1].msn, len(r.segments[n-1].parts) - 1
	}
	return -1, -1
}

// writePlaylistLocked writes the rung's media playlist.
func (r *rung) writePlaylistLocked() error {
	cfg := r.p.cfg
	low := cfg.PartTarget > 0 && !r.ended
	var b strings.Builder
	b.Grow(4096)
	b.WriteString("#EXTM3U\n")
	target := r.targetSeconds()
	if low {
		b.WriteString("#EXT-X-VERSION:9\n")
	} else {
		b.WriteString("#EXT-X-VERSION:7\n")
	}
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", target)
	if low {
		fmt.Fprintf(&b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%s,CAN-SKIP-UNTIL=%d\n",
			seconds(3*cfg.PartTarget), 6*target)
		fmt.Fprintf(&b, "#EXT-X-PART-INF:PART-TARGET=%s\n", seconds(cfg.PartTarget))
	}
	first := max(len(r.segments)-cfg.Window, 0)
	firstMSN := r.msn
	if first < len(r.segments) {
		firstMSN = r.segments[first].msn
	}
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", firstMSN)
	b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	fmt.Fprintf(&b, "#EXT-X-MAP:URI=\"%s\"\n", r.initName())
	for _, s := range r.segments[first:] {
		// When the segment reached the edge, for players that measure
		// their latency (hls.js) or sync to the wall clock.
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.at.UTC().Format("2006-01-02T15:04:05.000Z"))
		if low {
			writeParts(&b, cfg.Tag, s.msn, s.parts)
		}
		fmt.Fprintf(&b, "#EXTINF:%s,\n%s\n", seconds(s.dur), segmentName(cfg.Tag, s.msn))
	}
	if low {
		writeParts(&b, cfg.Tag, r.msn, r.parts)
		fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%s\"\n", partName(cfg.Tag, r.msn, len(r.parts)))
		for _, o := range r.p.rungs {
			if o == r {
				continue
			}
			if msn, part := o.lastPart(); msn >= 0 {
				fmt.Fprintf(&b, "#EXT-X-RENDITION-REPORT:URI=\"../%s/index.m3u8\",LAST-MSN=%d", o.name, msn)
				if part >= 0 {
					fmt.Fprintf(&b, ",LAST-PART=%d", part)
				}
				b.WriteByte('\n')
			}
		}
	}
	if r.ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	if err := r.p.writePlaylistLocked(r.name+"/index.m3u8", []byte(b.String())); err != nil {
		return fmt.Errorf("write playlist: %w", err)
	}
	return nil
}

func writeParts(b *strings.Builder, tag string, msn int, parts []part) {
	for i, p := range parts {
		fmt.Fprintf(b, "#EXT-X-PART:DURATION=%s,URI=\"%s\"", seconds(p.dur), partName(tag, msn, i))
		if p.independent {
			b.WriteString(",INDEPENDENT=YES")
		}
		b.WriteByte('\n')
	}
}
