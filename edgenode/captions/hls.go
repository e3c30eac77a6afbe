package captions

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// GroupID is the EXT-X-MEDIA group of the subtitles renditions.
const GroupID = "subs"

// Segment is one WebVTT file of a segmented subtitles rendition.
type Segment struct {
	Name     string
	Duration time.Duration
	VTT      []byte
}

// SegmentOptions says how to segment cues for HLS.
type SegmentOptions struct {
	// Duration of each segment (the last may be shorter); 6 s if zero.
	Duration time.Duration
	// Total is the length of the presentation; the segments cover it.
	Total time.Duration
	// MPEGTS is the media time (90 kHz) that cue time zero maps to through
	// each segment's X-TIMESTAMP-MAP: the first presentation timestamp of
	// the video renditions, so the cues line up with them.
	MPEGTS int64
}

// SegmentVTT cuts cues into WebVTT segments named subs_N.vtt and returns
// the subtitles media playlist that lists them. A cue that spans a segment
// boundary is repeated in each segment it overlaps, as the HLS spec
// allows: players drop the repeats. Cue times stay those of the
// presentation; each segment maps them with X-TIMESTAMP-MAP.
func SegmentVTT(cues []Cue, opt SegmentOptions) (playlist []byte, segments []Segment, err error) {
	if opt.Duration <= 0 {
		opt.Duration = 6 * time.Second
	}
	if opt.Total <= 0 {
		return nil, nil, errors.New("segment vtt: total duration must be positive")
	}
	if opt.MPEGTS < 0 || opt.MPEGTS >= 1<<33 {
		return nil, nil, fmt.Errorf("segment vtt: MPEGTS %d is outside 33 bits", opt.MPEGTS)
	}
	n := int((opt.Total + opt.Duration - 1) / opt.Duration)
	for i := 0; i < n; i++ {
		start := time.Duration(i) * opt.Duration
		end := min(start+opt.Duration, opt.Total)
		var in []Cue
		for _, c := range cues {
			if c.Start < end && c.End > start {
				in = append(in, c)
			}
		}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		fmt.Fprintf(bw, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000\n", opt.MPEGTS)
		writeCues(bw, in, 0)
		bw.Flush()
		segments = append(segments, Segment{Name: fmt.Sprintf("subs_%d.vtt", i), Duration: end - start, VTT: buf.Bytes()})
	}

	// EXT-X-TARGETDURATION: each EXTINF, rounded to the nearest integer,
	// must be at most the target (RFC 8216 4.3.3.1).
	target := 1
	for _, s := range segments {
		target = max(target, int(math.Round(s.Duration.Seconds())))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n", target)
	for _, s := range segments {
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", s.Duration.Seconds(), s.Name)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return []byte(b.String()), segments, nil
}

// MediaTag returns the EXT-X-MEDIA line of a subtitles rendition in group
// GroupID: name is shown to viewers, lang is its RFC 5646 tag ("en"), uri
// its media playlist relative to the master playlist.
func MediaTag(name, lang, uri string) (string, error) {
	for what, v := range map[string]string{"name": name, "language": lang, "uri": uri} {
		if v == "" && what != "language" {
			return "", fmt.Errorf("subtitles %s is empty", what)
		}
		if strings.ContainsAny(v, "\"\r\n") {
			return "", fmt.Errorf("subtitles %s %q: quotes and line breaks cannot be quoted in a playlist", what, v)
		}
	}
	tag := fmt.Sprintf(`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="%s",NAME="%s"`, GroupID, name)
	if lang != "" {
		tag += fmt.Sprintf(`,LANGUAGE="%s"`, lang)
	}
	return tag + fmt.Sprintf(`,DEFAULT=NO,AUTOSELECT=YES,URI="%s"`, uri), nil
}

// AddSubtitles adds a subtitles rendition (a line from MediaTag) to a
// master playlist: the EXT-X-MEDIA line goes before the first variant, a
// rendition of the same group and NAME is replaced, and every
// EXT-X-STREAM-INF gets SUBTITLES="subs" (one that names another
// subtitles group is an error: a variant has one). Adding the same line
// twice changes nothing.
func AddSubtitles(master []byte, tag string) ([]byte, error) {
	if !strings.HasPrefix(tag, "#EXT-X-MEDIA:") {
		return nil, errors.New("add subtitles: not an EXT-X-MEDIA line")
	}
	newAttrs, ok := attributes(strings.TrimPrefix(tag, "#EXT-X-MEDIA:"))
	if !ok || newAttrs["GROUP-ID"] == "" {
		return nil, errors.New("add subtitles: malformed EXT-X-MEDIA line")
	}
	text := strings.ReplaceAll(string(master), "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "#EXTM3U" {
		return nil, errors.New("add subtitles: not a playlist (no #EXTM3U)")
	}
	var out []string
	inserted, variants := false, 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "#EXT-X-MEDIA:"):
			a, _ := attributes(strings.TrimPrefix(l, "#EXT-X-MEDIA:"))
			if a["TYPE"] == "SUBTITLES" && a["GROUP-ID"] == newAttrs["GROUP-ID"] && a["NAME"] == newAttrs["NAME"] {
				continue // replaced by tag
			}
		case strings.HasPrefix(l, "#EXT-X-STREAM-INF:"):
			variants++
			if !inserted {
				out = append(out, tag)
				inserted = true
			}
			a, ok := attributes(strings.TrimPrefix(l, "#EXT-X-STREAM-INF:"))
			if !ok {
				return nil, fmt.Errorf("add subtitles: malformed variant %q", l)
			}
			if g, ok := a["SUBTITLES"]; ok {
				if g != newAttrs["GROUP-ID"] {
					return nil, fmt.Errorf("add subtitles: a variant already uses subtitles group %q", g)
				}
			} else {
				l += `,SUBTITLES="` + newAttrs["GROUP-ID"] + `"`
			}
		case strings.HasPrefix(l, "#EXTINF:"):
			return nil, errors.New("add subtitles: a media playlist, not a master playlist")
		}
		out = append(out, l)
	}
	if variants == 0 {
		return nil, errors.New("add subtitles: master playlist has no EXT-X-STREAM-INF")
	}
	return []byte(strings.Join(out, "\n") + "\n"), nil
}

// attributes parses an HLS attribute list (NAME=value pairs separated by
// commas, values possibly quoted and holding commas) into a map of the
// values, quotes removed; false if a quoted value is not closed.
func attributes(list string) (map[string]string, bool) {
	m := map[string]string{}
	for list != "" {
		eq, comma := strings.IndexByte(list, '='), strings.IndexByte(list, ',')
		if eq < 0 {
			break
		}
		if comma >= 0 && comma < eq {
			list = list[comma+1:] // an element without a value: skip it
			continue
		}
		name, rest := list[:eq], list[eq+1:]
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return m, false
			}
			value, rest = rest[1:1+end], rest[2+end:]
			_, rest, _ = strings.Cut(rest, ",")
		} else {
			value, rest, _ = strings.Cut(rest, ",")
		}
		m[strings.TrimSpace(name)] = value
		list = rest
	}
	return m, true
}
