package livevod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Ladder is the checked renditions of a finished live session.
type Ladder struct {
	// Dir is the session's HLS directory.
	Dir   string
	Rungs []Rung
	// Duration is the seconds the shortest rung covers; Recording the
	// seconds of the recording it was checked against.
	Duration, Recording float64
	master              []byte
}

// Rung is one rendition: its directory under Dir, its init segment and
// its segments, in order.
type Rung struct {
	Name                     string
	Width, Height, Bandwidth int
	Init                     string
	Segments                 []Segment
}

// Segment is one media segment file of a rung.
type Segment struct {
	Name     string
	Seq      int
	Duration float64 // seconds of video
}

// Limits of what Check accepts.
const (
	// maxGap is the largest hole, in seconds, between one segment's end
	// and the next one's start that still counts as contiguous (rounding
	// of timestamps, not a lost segment).
	maxGap = 0.1
	// slack is added to half the longest segment when comparing a rung's
	// coverage with the recording's: the ladder and the recording come
	// from the same frames and differ by rounding, so a lost segment at
	// either end shows.
	slack = 0.25
	// maxRungs bounds the master playlist.
	maxRungs = 16
)

var segNum = regexp.MustCompile(`^(.*?)(\d+)\.m4s$`)

// Check reads the master playlist and every rung of the live session in
// dir and checks each is whole: one init segment, segments numbered
// without a hole, each starting where the previous ended, together
// covering the recording at recordingPath to within half a segment. Any
// failure says why the ladder cannot be kept.
func Check(dir, recordingPath string) (Ladder, error) {
	l := Ladder{Dir: dir}
	rec, err := fileSpan(recordingPath, recordingPath)
	if err != nil {
		return l, fmt.Errorf("recording: %w", err)
	}
	l.Recording = rec
	master, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if err != nil {
		return l, fmt.Errorf("master playlist: %w", err)
	}
	vs, err := parseMaster(master)
	if err != nil {
		return l, fmt.Errorf("master playlist: %w", err)
	}
	l.master = master
	l.Duration = math.Inf(1)
	for _, v := range vs {
		r, cover, err := checkRung(dir, v)
		if err != nil {
			return l, fmt.Errorf("rung %s: %w", v.name, err)
		}
		longest := 0.0
		for _, s := range r.Segments {
			longest = max(longest, s.Duration)
		}
		if math.Abs(cover-rec) > longest/2+slack {
			return l, fmt.Errorf("rung %s: segments cover %.3fs, the recording %.3fs", v.name, cover, rec)
		}
		l.Rungs = append(l.Rungs, r)
		l.Duration = min(l.Duration, cover)
	}
	return l, nil
}

// fileSpan is the seconds of video a fMP4 file covers, reading its track
// from initPath (the file itself for a recording).
func fileSpan(initPath, path string) (float64, error) {
	t, err := initTrack(initPath)
	if err != nil {
		return 0, err
	}
	s, err := segmentSpan(path, t)
	if err != nil {
		return 0, err
	}
	if s.fragments == 0 {
		return 0, errors.New("no video fragments")
	}
	return float64(s.end-s.start) / float64(t.timescale), nil
}

func initTrack(p string) (track, error) {
	f, err := os.Open(p)
	if err != nil {
		return track{}, err
	}
	defer f.Close()
	t, err := readInit(f)
	if err != nil {
		return track{}, fmt.Errorf("%s: %w", filepath.Base(p), err)
	}
	return t, nil
}

func segmentSpan(p string, t track) (span, error) {
	f, err := os.Open(p)
	if err != nil {
		return span{}, err
	}
	defer f.Close()
	s, err := readSpan(f, t)
	if err != nil {
		return span{}, fmt.Errorf("%s: %w", filepath.Base(p), err)
	}
	return s, nil
}

// checkRung lists and checks one rung's files; it returns the rung and
// the seconds its segments cover.
func checkRung(dir string, v variant) (Rung, float64, error) {
	r := Rung{Name: v.name, Width: v.width, Height: v.height, Bandwidth: v.bandwidth}
	entries, err := os.ReadDir(filepath.Join(dir, v.name))
	if err != nil {
		return r, 0, err
	}
	var prefix string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		switch {
		case strings.HasPrefix(name, "init") && strings.HasSuffix(name, ".mp4"):
			if r.Init != "" {
				return r, 0, fmt.Errorf("two init segments: %s and %s", r.Init, name)
			}
			r.Init = name
		case strings.HasPrefix(name, "seg_") && strings.HasSuffix(name, ".m4s"):
			// Only whole segments: a packager's part files, if it keeps
			// any on disk, are in the segments too.
			m := segNum.FindStringSubmatch(name)
			if m == nil {
				continue
			}
			if prefix != "" && m[1] != prefix {
				return r, 0, fmt.Errorf("segments of two sessions: %s and %s", prefix, m[1])
			}
			prefix = m[1]
			n, err := strconv.Atoi(m[2])
			if err != nil {
				return r, 0, fmt.Errorf("segment %s: %w", name, err)
			}
			r.Segments = append(r.Segments, Segment{Name: name, Seq: n})
		}
	}
	if r.Init == "" {
		return r, 0, errors.New("no init segment")
	}
	if len(r.Segments) == 0 {
		return r, 0, errors.New("no segments")
	}
	slices.SortFunc(r.Segments, func(a, b Segment) int { return a.Seq - b.Seq })
	t, err := initTrack(filepath.Join(dir, v.name, r.Init))
	if err != nil {
		return r, 0, err
	}
	var first, prevEnd uint64
	for i := range r.Segments {
		s := &r.Segments[i]
		if i > 0 && s.Seq != r.Segments[i-1].Seq+1 {
			return r, 0, fmt.Errorf("segment %d missing (after %s)", r.Segments[i-1].Seq+1, r.Segments[i-1].Name)
		}
		sp, err := segmentSpan(filepath.Join(dir, v.name, s.Name), t)
		if err != nil {
			return r, 0, err
		}
		if sp.fragments == 0 || sp.end <= sp.start {
			return r, 0, fmt.Errorf("segment %s holds no video", s.Name)
		}
		if i == 0 {
			first = sp.start
		} else if gap := math.Abs(float64(sp.start)-float64(prevEnd)) / float64(t.timescale); gap > maxGap {
			return r, 0, fmt.Errorf("segment %s starts %.3fs away from the end of the one before", s.Name, gap)
		}
		s.Duration = float64(sp.end-sp.start) / float64(t.timescale)
		prevEnd = sp.end
	}
	return r, float64(prevEnd-first) / float64(t.timescale), nil
}

// variant is one rung of a master playlist.
type variant struct {
	name                     string
	width, height, bandwidth int
}

var attr = regexp.MustCompile(`([A-Z0-9-]+)=("[^"]*"|[^,]*)`)

// parseMaster reads the rungs of a master playlist whose variants are
// NAME/PLAYLIST.m3u8, as the live ladder writes them.
func parseMaster(data []byte) ([]variant, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var out []variant
	var pending *variant
	first := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			if line != "#EXTM3U" {
				return nil, errors.New("does not start with #EXTM3U")
			}
			first = false
			continue
		}
		switch {
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			v := variant{}
			for _, m := range attr.FindAllStringSubmatch(strings.TrimPrefix(line, "#EXT-X-STREAM-INF:"), -1) {
				val := strings.Trim(m[2], `"`)
				switch m[1] {
				case "BANDWIDTH":
					v.bandwidth, _ = strconv.Atoi(val)
				case "RESOLUTION":
					w, h, _ := strings.Cut(val, "x")
					v.width, _ = strconv.Atoi(w)
					v.height, _ = strconv.Atoi(h)
				}
			}
			pending = &v
		case line == "" || strings.HasPrefix(line, "#"):
		case pending != nil:
			dir, file := path.Split(line)
			dir = strings.TrimSuffix(dir, "/")
			if dir == "" || strings.ContainsAny(dir, "/\\?#") || strings.HasPrefix(dir, ".") || !strings.HasSuffix(file, ".m3u8") {
				return nil, fmt.Errorf("variant URI %q: want NAME/PLAYLIST.m3u8", line)
			}
			if pending.bandwidth <= 0 {
				return nil, fmt.Errorf("variant %s without a BANDWIDTH", dir)
			}
			pending.name = dir
			out = append(out, *pending)
			pending = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch {
	case first:
		return nil, errors.New("empty")
	case len(out) == 0:
		return nil, errors.New("lists no variants")
	case len(out) > maxRungs:
		return nil, fmt.Errorf("%d variants: at most %d", len(out), maxRungs)
	}
	return out, nil
}

// Staged is one file of a staged ladder: Rel is its path under the
// asset's hls/ prefix, Path the local file.
type Staged struct {
	Rel, Path string
	// Immutable is set for media (segments, init segments), whose bytes
	// never change under their key.
	Immutable bool
}

// Stage links the ladder's files into dir (copying where a link cannot
// be made) and writes a VOD playlist per rung and the master playlist
// beside them. It returns the files in upload order: media, then rung
// playlists, then the master playlist, so that no playlist is stored
// before what it lists. The live directory is left as it was.
func (l Ladder) Stage(dir string) ([]Staged, error) {
	var media, lists []Staged
	for _, r := range l.Rungs {
		rd := filepath.Join(dir, r.Name)
		if err := os.MkdirAll(rd, 0o755); err != nil {
			return nil, fmt.Errorf("stage %s: %w", r.Name, err)
		}
		names := []string{r.Init}
		for _, s := range r.Segments {
			names = append(names, s.Name)
		}
		for _, n := range names {
			dst := filepath.Join(rd, n)
			if err := linkOrCopy(filepath.Join(l.Dir, r.Name, n), dst); err != nil {
				return nil, fmt.Errorf("stage %s/%s: %w", r.Name, n, err)
			}
			media = append(media, Staged{Rel: r.Name + "/" + n, Path: dst, Immutable: true})
		}
		p := filepath.Join(rd, "index.m3u8")
		if err := os.WriteFile(p, r.playlist(), 0o644); err != nil {
			return nil, fmt.Errorf("stage %s: %w", r.Name, err)
		}
		lists = append(lists, Staged{Rel: r.Name + "/index.m3u8", Path: p})
	}
	p := filepath.Join(dir, "master.m3u8")
	if err := os.WriteFile(p, l.masterPlaylist(), 0o644); err != nil {
		return nil, fmt.Errorf("stage master playlist: %w", err)
	}
	return append(append(media, lists...), Staged{Rel: "master.m3u8", Path: p}), nil
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil || errors.Is(err, os.ErrExist) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// playlist is the rung's VOD media playlist.
func (r Rung) playlist() []byte {
	longest := 0.0
	for _, s := range r.Segments {
		longest = max(longest, s.Duration)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n",
		max(int(math.Ceil(longest)), 1), r.Segments[0].Seq)
	b.WriteString("#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	fmt.Fprintf(&b, "#EXT-X-MAP:URI=%q\n", r.Init)
	for _, s := range r.Segments {
		fmt.Fprintf(&b, "#EXTINF:%.6f,\n%s\n", s.Duration, s.Name)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.Bytes()
}

// masterPlaylist is the live master playlist with every variant pointing
// at its rung's VOD playlist (NAME/index.m3u8).
func (l Ladder) masterPlaylist() []byte {
	var b bytes.Buffer
	inf := false
	for line := range strings.Lines(string(l.master)) {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "#EXT-X-STREAM-INF:"):
			inf = true
		case inf && t != "" && !strings.HasPrefix(t, "#"):
			dir, _ := path.Split(t)
			t, inf = dir+"index.m3u8", false
		}
		b.WriteString(t + "\n")
	}
	return b.Bytes()
}

// Segments is how many segments the longest rung has.
func (l Ladder) Segments() int {
	n := 0
	for _, r := range l.Rungs {
		n = max(n, len(r.Segments))
	}
	return n
}
