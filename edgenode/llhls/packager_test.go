package llhls_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/llhls"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// media is one media playlist as the checks read it.
type media struct {
	target, partTarget, holdBack, skipUntil float64
	blockReload, ended                      bool
	seq                                     int
	mapURI                                  string
	segs                                    []seg
	parts                                   []part // of the segment in progress
	hint                                    string
	reports                                 map[string][2]int // rung -> LAST-MSN, LAST-PART
	version                                 int
}

type seg struct {
	dur   float64
	uri   string
	parts []part
}

type part struct {
	dur         float64
	uri         string
	independent bool
}

func attrs(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		k, rest, _ := strings.Cut(s, "=")
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			v, rest = rest[1:1+end], rest[2+end:]
			rest = strings.TrimPrefix(rest, ",")
		} else {
			v, rest, _ = strings.Cut(rest, ",")
		}
		out[k], s = v, rest
	}
	return out
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return f
}

func parseMedia(t *testing.T, text string) media {
	t.Helper()
	m := media{reports: map[string][2]int{}}
	var pending []part
	var extinf float64 = -1
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		tag, val, _ := strings.Cut(line, ":")
		switch tag {
		case "#EXT-X-VERSION":
			m.version = int(num(t, val))
		case "#EXT-X-TARGETDURATION":
			m.target = num(t, val)
		case "#EXT-X-SERVER-CONTROL":
			a := attrs(val)
			m.blockReload = a["CAN-BLOCK-RELOAD"] == "YES"
			m.holdBack, m.skipUntil = num(t, a["PART-HOLD-BACK"]), num(t, a["CAN-SKIP-UNTIL"])
		case "#EXT-X-PART-INF":
			m.partTarget = num(t, attrs(val)["PART-TARGET"])
		case "#EXT-X-MEDIA-SEQUENCE":
			m.seq = int(num(t, val))
		case "#EXT-X-MAP":
			m.mapURI = attrs(val)["URI"]
		case "#EXT-X-PART":
			a := attrs(val)
			pending = append(pending, part{dur: num(t, a["DURATION"]), uri: a["URI"], independent: a["INDEPENDENT"] == "YES"})
		case "#EXTINF":
			d, _, _ := strings.Cut(val, ",")
			extinf = num(t, d)
		case "#EXT-X-PRELOAD-HINT":
			m.hint = attrs(val)["URI"]
		case "#EXT-X-RENDITION-REPORT":
			a := attrs(val)
			p := -1
			if v, ok := a["LAST-PART"]; ok {
				p = int(num(t, v))
			}
			m.reports[a["URI"]] = [2]int{int(num(t, a["LAST-MSN"])), p}
		case "#EXT-X-ENDLIST":
			m.ended = true
		default:
			if !strings.HasPrefix(line, "#") && line != "" {
				if extinf < 0 {
					t.Fatalf("segment %s without EXTINF", line)
				}
				m.segs = append(m.segs, seg{dur: extinf, uri: line, parts: pending})
				pending, extinf = nil, -1
			}
		}
	}
	m.parts = pending
	return m
}

// rungState is what a rung's latest playlist says, for the rendition
// reports of the others.
type rungState struct{ msn, part int }

// TestLowLatencySession packages a real low-latency ladder from ffmpeg
// and checks every playlist version the session writes.
func TestLowLatencySession(t *testing.T) {
	t.Parallel()
	mediatest.RequireFFmpeg(t)
	src := mediatest.File(t, mediatest.Spec{Width: 640, Height: 360, Seconds: 8, Audio: true})
	dir := t.TempDir()
	params := transcode.Params{Input: src, Mode: transcode.Live, Latency: transcode.Low, OutDir: dir, Tag: "t1", Pipes: true,
		Window: 4 * time.Second, Ladder: []transcode.Rung{
			{Name: "360p", Width: 640, Height: 360, VideoKbps: 800},
			{Name: "180p", Width: 320, Height: 180, VideoKbps: 200},
		},
		Source: transcode.Source{Width: 640, Height: 360, FrameRate: 30, HasAudio: true, HasVideo: true, AudioCodec: "aac"}}

	var mu sync.Mutex
	versions := map[string]int{}
	state := map[string]rungState{}
	lastSeq := map[string]int{}
	var failures []string
	fail := func(format string, a ...any) { failures = append(failures, fmt.Sprintf(format, a...)) }
	check := func(name string, text []byte) {
		mu.Lock()
		defer mu.Unlock()
		versions[name]++
		if name == "master.m3u8" {
			for _, want := range []string{"360p/index.m3u8", "180p/index.m3u8", "RESOLUTION=640x360", "CODECS=\"avc1."} {
				if !strings.Contains(string(text), want) {
					fail("master lacks %q:\n%s", want, text)
				}
			}
			return
		}
		rung := filepath.Dir(name)
		m := parseMedia(t, string(text))
		where := fmt.Sprintf("%s version %d", name, versions[name])
		if m.version < 9 && !m.ended || m.target != 1 || m.mapURI != "init_t1_"+rung+".mp4" {
			fail("%s: version %d, target %v, map %q", where, m.version, m.target, m.mapURI)
		}
		if _, err := os.Stat(filepath.Join(dir, rung, m.mapURI)); err != nil {
			fail("%s: init segment: %v", where, err)
		}
		if !m.ended {
			if !m.blockReload || m.partTarget <= 0 {
				fail("%s: server control or part-inf missing", where)
			}
			if m.holdBack < 3*m.partTarget {
				fail("%s: PART-HOLD-BACK %v < 3 × %v", where, m.holdBack, m.partTarget)
			}
			if m.skipUntil < 6*m.target {
				fail("%s: CAN-SKIP-UNTIL %v < 6 × %v", where, m.skipUntil, m.target)
			}
		}
		if m.seq < lastSeq[name] {
			fail("%s: media sequence went back from %d to %d", where, lastSeq[name], m.seq)
		}
		lastSeq[name] = m.seq
		if n := strings.Count(string(text), "#EXT-X-PROGRAM-DATE-TIME:"); n != len(m.segs) {
			fail("%s: %d program date-times for %d segments", where, n, len(m.segs))
		}
		if len(m.segs) > 4 {
			fail("%s: %d segments listed in a 4 s window", where, len(m.segs))
		}
		check := func(msn int, parts []part, complete bool, dur float64) {
			var sum float64
			for i, p := range parts {
				if p.dur <= 0 || p.dur > m.partTarget+1e-9 {
					fail("%s: part %s lasts %v, not in (0, PART-TARGET %v]", where, p.uri, p.dur, m.partTarget)
				}
				if i < len(parts)-1 && p.dur < 0.85*m.partTarget {
					fail("%s: part %s lasts %v < 85%% of %v and is not a segment's last", where, p.uri, p.dur, m.partTarget)
				}
				if want := fmt.Sprintf("part_t1_%05d_%d.m4s", msn, i); p.uri != want {
					fail("%s: part %d of %d is %s, want %s", where, i, msn, p.uri, want)
				}
				if _, err := os.Stat(filepath.Join(dir, rung, p.uri)); err != nil {
					fail("%s: listed part: %v", where, err)
				}
				sum += p.dur
			}
			if len(parts) > 0 && !parts[0].independent {
				fail("%s: first part of segment %d is not INDEPENDENT", where, msn)
			}
			if complete && len(parts) > 0 && math.Abs(sum-dur) > 0.001*float64(len(parts)) {
				fail("%s: parts of segment %d sum to %v, segment lasts %v", where, msn, sum, dur)
			}
		}
		for i, s := range m.segs {
			msn := m.seq + i
			if len(s.parts) > 0 && i < len(m.segs)-1 { // parts for the last complete segment only
				fail("%s: segment %d lists parts, %d segments from the end (hls.js stalls at a switch on old parts)", where, msn, len(m.segs)-i)
			}
			if want := fmt.Sprintf("seg_t1_%05d.m4s", msn); s.uri != want {
				fail("%s: segment %d is %s, want %s", where, msn, s.uri, want)
			}
			if math.Round(s.dur) > m.target {
				fail("%s: segment %s lasts %v, rounds above the target %v", where, s.uri, s.dur, m.target)
			}
			if _, err := os.Stat(filepath.Join(dir, rung, s.uri)); err != nil {
				fail("%s: listed segment: %v", where, err)
			}
			check(msn, s.parts, true, s.dur)
		}
		next := m.seq + len(m.segs)
		if m.ended {
			if len(m.parts) > 0 || m.hint != "" {
				fail("%s: final playlist with parts or a hint", where)
			}
		} else {
			check(next, m.parts, false, 0)
			if want := fmt.Sprintf("part_t1_%05d_%d.m4s", next, len(m.parts)); m.hint != want {
				fail("%s: preload hint %q, want %q", where, m.hint, want)
			}
			for uri, got := range m.reports {
				other := strings.TrimSuffix(strings.TrimPrefix(uri, "../"), "/index.m3u8")
				want, ok := state[other]
				if !ok || other == rung {
					fail("%s: rendition report for %s, not another rung with a playlist", where, uri)
				} else if got != [2]int{want.msn, want.part} {
					fail("%s: report for %s says %v, its playlist says %v", where, other, got, want)
				}
			}
			others := 0
			for r := range state {
				others += boolInt(r != rung)
			}
			if len(m.reports) != others {
				fail("%s: %d rendition reports for %d other rungs", where, len(m.reports), others)
			}

		}
		st := rungState{msn: next, part: len(m.parts) - 1}
		if len(m.parts) == 0 && len(m.segs) > 0 {
			st = rungState{msn: next - 1, part: len(m.segs[len(m.segs)-1].parts) - 1}
		}
		state[rung] = st
	}

	plan, err := params.Packaging()
	if err != nil {
		t.Fatal(err)
	}
	if plan.Part != transcode.PartTarget || plan.Segment != time.Second {
		t.Fatalf("plan %+v", plan)
	}
	run(t, params, plan, check)

	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Fatalf("%d failures, first ones:\n%s", len(failures), strings.Join(failures[:min(len(failures), 10)], "\n"))
	}
	if versions["master.m3u8"] != 1 || versions["360p/index.m3u8"] < 20 || versions["180p/index.m3u8"] < 20 {
		t.Fatalf("playlist versions: %v", versions)
	}
	// Segments that left the window stay; parts do not outlive the session.
	for _, rung := range []string{"360p", "180p"} {
		segs, _ := filepath.Glob(filepath.Join(dir, rung, "seg_t1_*.m4s"))
		parts, _ := filepath.Glob(filepath.Join(dir, rung, "part_*"))
		if len(segs) < 7 || len(parts) > 0 {
			t.Fatalf("%s: %d segments, %d parts left on disk", rung, len(segs), len(parts))
		}
	}
	t.Logf("playlist versions: %v", versions)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// run transcodes params through the packager until ffmpeg ends.
func run(t *testing.T, params transcode.Params, plan transcode.Packaging, onPlaylist func(string, []byte)) *llhls.Packager {
	t.Helper()
	args, err := transcode.Build(params)
	if err != nil {
		t.Fatal(err)
	}
	rends := make([]llhls.Rendition, len(plan.Renditions))
	for i, r := range plan.Renditions {
		rends[i] = llhls.Rendition{Name: r.Name, Bandwidth: r.Bandwidth}
	}
	p, err := llhls.New(llhls.Config{Dir: params.OutDir, Tag: params.Tag, Renditions: rends, TargetDuration: plan.Segment,
		PartTarget: plan.Part, Window: plan.Window, Logger: testutil.Logger(t), OnPlaylist: onPlaylist})
	if err != nil {
		t.Fatal(err)
	}
	var readers []io.Reader
	var writers []*os.File
	for range rends {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		readers, writers = append(readers, r), append(writers, w)
	}
	ctx := testutil.Context(t, 2*time.Minute)
	proc, err := transcode.Start(ctx, transcode.ProcessConfig{Args: args, ExtraFiles: writers, Logger: testutil.Logger(t)})
	for _, w := range writers {
		w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background(), readers) }()
	if err := proc.Wait(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, strings.Join(proc.StderrTail(), "\n"))
	}
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStandardSession packages a standard-latency ladder: 2 s segments of
// 1 s parts (PART-HOLD-BACK 3 s), the master once every rung has a
// segment and keeps the clock's pace (a file read faster than real time
// gets it at the hold's end or the session's), a sliding window, and the
// final playlists finished.
func TestStandardSession(t *testing.T) {
	t.Parallel()
	mediatest.RequireFFmpeg(t)
	src := mediatest.File(t, mediatest.Spec{Width: 640, Height: 360, Seconds: 12, Audio: true})
	dir := t.TempDir()
	params := transcode.Params{Input: src, Mode: transcode.Live, OutDir: dir, Tag: "t2", Pipes: true, Window: 6 * time.Second,
		Ladder: []transcode.Rung{{Name: "360p", Width: 640, Height: 360, VideoKbps: 800}, {Name: "180p", Width: 320, Height: 180, VideoKbps: 200}},
		Source: transcode.Source{Width: 640, Height: 360, FrameRate: 30, HasAudio: true, HasVideo: true, AudioCodec: "aac"}}
	plan, err := params.Packaging()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var failures []string
	segsAtMaster := -1
	total := 0
	last := map[string]string{}
	run(t, params, plan, func(name string, text []byte) {
		mu.Lock()
		defer mu.Unlock()
		last[name] = string(text)
		if name == "master.m3u8" {
			segsAtMaster = total
			return
		}
		m := parseMedia(t, string(text))
		total++
		if !m.ended && (!strings.Contains(string(text), "#EXT-X-PART-INF:PART-TARGET=1.00000\n") ||
			!strings.Contains(string(text), "PART-HOLD-BACK=3.00000,") || m.target != 2 || m.version != 9) {
			failures = append(failures, fmt.Sprintf("%s:\n%s", name, text))
		}
		for _, s := range m.segs {
			for _, p := range s.parts {
				if p.dur > 1.0001 {
					failures = append(failures, fmt.Sprintf("%s: part %s lasts %v", name, p.uri, p.dur))
				}
			}
		}
		if len(m.segs) > 3 {
			failures = append(failures, fmt.Sprintf("%s lists %d segments in a 6 s window", name, len(m.segs)))
		}
		for _, s := range m.segs {
			if math.Round(s.dur) > m.target || s.dur < 1.5 {
				failures = append(failures, fmt.Sprintf("%s: segment %s lasts %v", name, s.uri, s.dur))
			}
		}
	})
	if len(failures) > 0 {
		t.Fatalf("%d failures:\n%s", len(failures), strings.Join(failures[:min(len(failures), 5)], "\n"))
	}
	// The master comes after every rung has a segment, once.
	if segsAtMaster < 2 {
		t.Fatalf("master written after %d media playlist versions", segsAtMaster)
	}
	for _, rung := range []string{"360p", "180p"} {
		m := parseMedia(t, last[rung+"/index.m3u8"])
		if !m.ended || m.seq < 2 {
			t.Fatalf("%s final playlist:\n%s", rung, last[rung+"/index.m3u8"])
		}
	}
	if !strings.Contains(last["master.m3u8"], "#EXT-X-STREAM-INF:BANDWIDTH=") || !strings.Contains(last["master.m3u8"], "RESOLUTION=320x180") {
		t.Fatalf("master:\n%s", last["master.m3u8"])
	}
}
