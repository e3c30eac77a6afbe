package hls

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// LL-HLS delivery directives (RFC 8216bis 6.2.5): a blocking playlist
// reload waits until the playlist holds a segment or part, and a delta
// update replaces the older segments with EXT-X-SKIP.

// Query is a request's LL-HLS delivery directives.
type Query struct {
	MSN, Part       int
	HasMSN, HasPart bool
	Skip            bool // _HLS_skip=YES or v2
}

// Blocking reports whether q asks the origin to hold the request.
func (q Query) Blocking() bool { return q.HasMSN }

// errBadDirective is a 400: a directive that cannot be honoured.
var errBadDirective = errors.New("bad delivery directive")

// ParseQuery reads the directives of a raw query string. A malformed
// number, a part without a segment or a negative number is an error (a
// 400 per the spec); other parameters are ignored.
func ParseQuery(raw string) (Query, error) {
	var q Query
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "_HLS_msn", "_HLS_part":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || len(v) > 10 {
				return Query{}, errBadDirective
			}
			if k == "_HLS_msn" {
				q.MSN, q.HasMSN = n, true
			} else {
				q.Part, q.HasPart = n, true
			}
		case "_HLS_skip":
			switch v {
			case "YES", "v2":
				q.Skip = true
			default:
				return Query{}, errBadDirective
			}
		}
	}
	if q.HasPart && !q.HasMSN {
		return Query{}, errBadDirective
	}
	return q, nil
}

// mediaState is what a media playlist says about how far it has got.
type mediaState struct {
	target     float64 // EXT-X-TARGETDURATION
	partTarget float64 // EXT-X-PART-INF, 0 without parts
	skipUntil  float64 // CAN-SKIP-UNTIL, 0 when it cannot skip
	canBlock   bool
	ended      bool
	lastMSN    int // the last complete segment; seq-1 when none
	nextParts  int // parts of segment lastMSN+1 listed so far
}

// readState reads a media playlist's state; ok is false when it is not
// a media playlist.
func readState(body []byte) (st mediaState, ok bool) {
	seq, segs := 0, 0
	var media bool
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte{'\n'})
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '#' {
			segs++
			st.nextParts = 0
			continue
		}
		tag, val, _ := bytes.Cut(line, []byte{':'})
		switch string(tag) {
		case "#EXT-X-TARGETDURATION":
			st.target, _ = strconv.ParseFloat(string(val), 64)
			media = true
		case "#EXT-X-MEDIA-SEQUENCE":
			seq, _ = strconv.Atoi(string(val))
		case "#EXT-X-PART-INF":
			st.partTarget, _ = strconv.ParseFloat(attr(val, "PART-TARGET"), 64)
		case "#EXT-X-SERVER-CONTROL":
			st.canBlock = attr(val, "CAN-BLOCK-RELOAD") == "YES"
			st.skipUntil, _ = strconv.ParseFloat(attr(val, "CAN-SKIP-UNTIL"), 64)
		case "#EXT-X-PART":
			st.nextParts++
		case "#EXT-X-SKIP":
			n, _ := strconv.Atoi(attr(val, "SKIPPED-SEGMENTS"))
			segs += max(n, 0)
		case "#EXT-X-ENDLIST":
			st.ended = true
		}
	}
	st.lastMSN = seq + segs - 1
	return st, media
}

// attr returns the value of attribute name in an attribute list, quotes
// removed; "" when it is not there.
func attr(list []byte, name string) string {
	s := string(list)
	for s != "" {
		k, rest, _ := strings.Cut(s, "=")
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return ""
			}
			v, rest = rest[1:1+end], rest[2+end:]
			_, rest, _ = strings.Cut(rest, ",")
		} else {
			v, rest, _ = strings.Cut(rest, ",")
		}
		if strings.TrimSpace(k) == name {
			return v
		}
		s = rest
	}
	return ""
}

// advancePartLimit: a request more than this many parts ahead of the
// playlist is refused at once (RFC 8216bis 6.2.5.2).
const advancePartLimit = 3

// verdict is what a blocking request gets from the playlist as it is.
type verdict int

const (
	holdOn verdict = iota
	answer
	tooFar // 400
)

// judge decides a blocking request against the playlist's state.
func (st mediaState) judge(q Query) verdict {
	if st.ended || !st.canBlock || !q.HasMSN {
		return answer
	}
	if q.MSN > st.lastMSN+2 {
		return tooFar
	}
	if q.MSN <= st.lastMSN {
		return answer
	}
	if !q.HasPart {
		return holdOn
	}
	next := st.lastMSN + 1
	switch {
	case q.MSN == next && q.Part < st.nextParts:
		return answer
	case q.MSN == next && q.Part >= st.nextParts+advancePartLimit:
		return tooFar
	}
	return holdOn
}

// holdFor bounds a blocking request: three target durations, then 503.
func (st mediaState) holdFor() time.Duration {
	return time.Duration(max(st.target, 1) * 3 * float64(time.Second))
}

// Delta returns the delta update of a media playlist (_HLS_skip=YES):
// the segments that end more than CAN-SKIP-UNTIL seconds before the end
// of the playlist replaced by #EXT-X-SKIP:SKIPPED-SEGMENTS=n. A playlist
// that cannot skip, or has nothing old enough, comes back unchanged.
func Delta(src []byte) []byte {
	st, ok := readState(src)
	if !ok || st.skipUntil <= 0 || st.ended {
		return src
	}
	type span struct {
		start, end int // byte offsets of the segment's lines
		dur        float64
	}
	var spans []span
	headerEnd, segStart, lateTag := -1, -1, -1
	var total, dur float64
	for off := 0; off < len(src); {
		end := bytes.IndexByte(src[off:], '\n')
		next := len(src)
		if end >= 0 {
			next = off + end + 1
		}
		line := bytes.TrimSpace(src[off:next])
		segmentLine := len(line) > 0 && (line[0] != '#' || bytes.HasPrefix(line, []byte("#EXTINF:")) ||
			bytes.HasPrefix(line, []byte("#EXT-X-PART:")) || bytes.HasPrefix(line, []byte("#EXT-X-PROGRAM-DATE-TIME:")) ||
			bytes.HasPrefix(line, []byte("#EXT-X-DISCONTINUITY")) || bytes.HasPrefix(line, []byte("#EXT-X-GAP")) ||
			bytes.HasPrefix(line, []byte("#EXT-X-BITRATE:")))
		if segmentLine && headerEnd < 0 {
			headerEnd = off
		}
		if segmentLine && segStart < 0 {
			segStart = off
		}
		if !segmentLine && headerEnd >= 0 && bytes.HasPrefix(line, []byte("#EXT")) && lateTag < 0 {
			lateTag = off // a playlist tag among the segments: not skipped over
		}
		if bytes.HasPrefix(line, []byte("#EXTINF:")) {
			v, _, _ := bytes.Cut(line[len("#EXTINF:"):], []byte{','})
			dur, _ = strconv.ParseFloat(string(v), 64)
		}
		if len(line) > 0 && line[0] != '#' {
			spans = append(spans, span{segStart, next, dur})
			total += dur
			segStart, dur = -1, 0
		}
		off = next
	}
	n := 0
	for _, s := range spans {
		if total-s.dur < st.skipUntil {
			break
		}
		total -= s.dur
		n++
	}
	if n == 0 || lateTag >= 0 && lateTag < spans[n-1].end {
		return src
	}
	out := make([]byte, 0, len(src))
	out = append(out, src[:headerEnd]...)
	out = append(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS="...)
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, '\n')
	return append(out, src[spans[n-1].end:]...)
}

// pollEvery is how often a held request looks at the file again when
// nothing tells it of a change.
const pollEvery = 10 * time.Millisecond

// waitChange waits until changed (when not nil) fires, pollEvery
// passes (20 times that with changed, as a safety net), at most left, or
// ctx is done; false on ctx.
func waitChange(ctx context.Context, changed <-chan struct{}, left time.Duration) bool {
	d := pollEvery
	if changed != nil {
		d *= 20
	}
	t := time.NewTimer(min(d, max(left, 0)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-changed:
	case <-t.C:
	}
	return true
}

// hold answers a blocking playlist reload of a local stream: the
// playlist once it holds what q asks for; 400 when q is too far ahead,
// 503 when it is not there within three target durations, 404 when the
// playlist never appears.
func (o *Origin) hold(ctx context.Context, st Stream, path string, q Query) ([]byte, int) {
	var deadline time.Time
	for {
		var changed <-chan struct{}
		if st.Changed != nil {
			changed = st.Changed() // before reading: no write slips between
		}
		body, err := readPlaylist(path)
		if err == nil {
			ms, ok := readState(body)
			if !ok {
				return body, 0 // a master playlist: nothing to hold for
			}
			switch ms.judge(q) {
			case answer:
				return body, 0
			case tooFar:
				return nil, http.StatusBadRequest
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(ms.holdFor())
			}
		} else if deadline.IsZero() {
			deadline = time.Now().Add(partWait)
		}
		if !time.Now().Before(deadline) {
			if err != nil {
				return nil, http.StatusNotFound
			}
			return nil, http.StatusServiceUnavailable
		}
		if !waitChange(ctx, changed, time.Until(deadline)) {
			return nil, http.StatusServiceUnavailable // the viewer left
		}
	}
}

// partWait bounds how long a request for a part that is not there yet
// (the preload hint's) is held.
const partWait = 3 * time.Second

// isPart reports whether obj names an LL-HLS part (edgenode/llhls names
// them part_*), which may be asked for before it exists.
func isPart(obj object) bool {
	if obj.kind != kindSegment {
		return false
	}
	file := obj.name[strings.LastIndexByte(obj.name, '/')+1:]
	return strings.HasPrefix(file, "part_")
}

// awaitPart holds a request for a part until its file exists, bounded by
// partWait; the caller then serves it or answers 404.
func (o *Origin) awaitPart(ctx context.Context, st Stream, path string) {
	deadline := time.Now().Add(partWait)
	for {
		var changed <-chan struct{}
		if st.Changed != nil {
			changed = st.Changed()
		}
		if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return
		}
		left := time.Until(deadline)
		if left <= 0 || !waitChange(ctx, changed, left) {
			return
		}
	}
}

// readPlaylist reads a playlist file whole.
func readPlaylist(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxPlaylistSize)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fetchQuery is fetch for a relayed playlist asked with directives.
func (o *Origin) fetchQuery(ctx context.Context, w http.ResponseWriter, st Stream, obj object, q Query) (string, int) {
	return o.fetch(ctx, w, Stream{Fetch: func(ctx context.Context, name string) (string, error) {
		return st.FetchQuery(ctx, name, q)
	}}, obj)
}

// Encode returns q as a query string in a fixed order ("" for none), as
// a relay asks its origin.
func (q Query) Encode() string {
	var b []byte
	if q.HasMSN {
		b = append(b, "_HLS_msn="...)
		b = strconv.AppendInt(b, int64(q.MSN), 10)
	}
	if q.HasPart {
		b = append(b, "&_HLS_part="...)
		b = strconv.AppendInt(b, int64(q.Part), 10)
	}
	if q.Skip {
		if len(b) > 0 {
			b = append(b, '&')
		}
		b = append(b, "_HLS_skip=YES"...)
	}
	return string(b)
}
