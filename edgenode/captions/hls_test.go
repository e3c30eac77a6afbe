package captions

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSegmentVTT(t *testing.T) {
	cues := []Cue{
		{Start: ms(1000), End: ms(2000), Text: "first"},
		{Start: ms(5500), End: ms(6500), Text: "across a boundary"},
		{Start: ms(13000), End: ms(14000), Text: "last & least"},
	}
	playlist, segs, err := SegmentVTT(cues, SegmentOptions{Duration: 6 * time.Second, Total: ms(14500), MPEGTS: 126000})
	if err != nil {
		t.Fatal(err)
	}
	want := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n" +
		"#EXTINF:6.000,\nsubs_0.vtt\n#EXTINF:6.000,\nsubs_1.vtt\n#EXTINF:2.500,\nsubs_2.vtt\n#EXT-X-ENDLIST\n"
	if string(playlist) != want {
		t.Errorf("playlist:\n%s\nwant:\n%s", playlist, want)
	}
	checkMediaPlaylist(t, playlist, ms(14500))
	wantText := [][]string{{"first", "across a boundary"}, {"across a boundary"}, {"last & least"}}
	for i, s := range segs {
		if !bytes.HasPrefix(s.VTT, []byte("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\n")) {
			t.Errorf("segment %d header:\n%s", i, s.VTT)
		}
		got, err := ParseVTT(s.VTT)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		var texts []string
		for _, c := range got {
			texts = append(texts, c.Text)
			// Cue times are the presentation's, not the segment's.
			if !containsCue(cues, c) {
				t.Errorf("segment %d has cue %#v that is not one of the source's", i, c)
			}
		}
		if strings.Join(texts, "|") != strings.Join(wantText[i], "|") {
			t.Errorf("segment %d cues %q, want %q", i, texts, wantText[i])
		}
	}

	// The target duration rounds each EXTINF to the nearest integer.
	playlist, segs, err = SegmentVTT(nil, SegmentOptions{Duration: ms(6400), Total: ms(20000)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(playlist, []byte("#EXT-X-TARGETDURATION:6\n")) || len(segs) != 4 || segs[3].Duration != ms(800) {
		t.Errorf("6.4 s segments:\n%s", playlist)
	}
	checkMediaPlaylist(t, playlist, 20*time.Second)
	if !bytes.Equal(segs[0].VTT, []byte("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n")) {
		t.Errorf("empty segment: %q", segs[0].VTT)
	}
	for _, bad := range []SegmentOptions{{Total: 0}, {Total: time.Second, MPEGTS: 1 << 33}, {Total: time.Second, MPEGTS: -1}} {
		if _, _, err := SegmentVTT(cues, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func containsCue(cues []Cue, c Cue) bool {
	for _, x := range cues {
		if x == c {
			return true
		}
	}
	return false
}

// checkMediaPlaylist checks the rules of RFC 8216 a VOD media playlist must
// follow: #EXTM3U first, a target duration no EXTINF rounds above, a URI
// after each EXTINF, the end tag, and segments that add up to total.
func checkMediaPlaylist(t *testing.T, playlist []byte, total time.Duration) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(playlist), "\n"), "\n")
	if lines[0] != "#EXTM3U" || lines[len(lines)-1] != "#EXT-X-ENDLIST" {
		t.Errorf("playlist does not start with #EXTM3U and end with #EXT-X-ENDLIST:\n%s", playlist)
	}
	target, sum := -1, 0.0
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "#EXT-X-TARGETDURATION:"):
			target, _ = strconv.Atoi(strings.TrimPrefix(l, "#EXT-X-TARGETDURATION:"))
		case strings.HasPrefix(l, "#EXTINF:"):
			d, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(l, "#EXTINF:"), ","), 64)
			if err != nil || target < 0 || int(math.Round(d)) > target {
				t.Errorf("EXTINF %q: target %d", l, target)
			}
			sum += d
			if i+1 >= len(lines) || strings.HasPrefix(lines[i+1], "#") || !strings.HasSuffix(lines[i+1], ".vtt") {
				t.Errorf("EXTINF %q is not followed by a segment URI", l)
			}
		}
	}
	if math.Abs(sum-total.Seconds()) > 0.001 {
		t.Errorf("segments add up to %.3f s, want %s", sum, total)
	}
}

const master = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="main",DEFAULT=YES,URI="audio.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1400000,RESOLUTION=854x480,CODECS="avc1.64001e,mp4a.40.2"
480p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=200000,URI="720p/iframes.m3u8"
`

func TestAddSubtitles(t *testing.T) {
	tag, err := MediaTag("English (automatic)", "en", "subs/en.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if want := `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English (automatic)",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,URI="subs/en.m3u8"`; tag != want {
		t.Errorf("tag %s", tag)
	}
	out, err := AddSubtitles([]byte(master), tag)
	if err != nil {
		t.Fatal(err)
	}
	want := `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="main",DEFAULT=YES,URI="audio.m3u8"
` + tag + `
#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1400000,RESOLUTION=854x480,CODECS="avc1.64001e,mp4a.40.2",SUBTITLES="subs"
480p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=200000,URI="720p/iframes.m3u8"
`
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	again, err := AddSubtitles(out, tag)
	if err != nil || string(again) != string(out) {
		t.Errorf("adding twice changed the playlist (%v):\n%s", err, again)
	}
	// A second language joins the group; the first stays.
	fr, _ := MediaTag("Français", "fr", "subs/fr.m3u8")
	both, err := AddSubtitles(out, fr)
	if err != nil || strings.Count(string(both), "TYPE=SUBTITLES") != 2 || strings.Count(string(both), `SUBTITLES="subs"`) != 2 {
		t.Errorf("second language (%v):\n%s", err, both)
	}

	for name, bad := range map[string]string{
		"not a playlist":   "720p/index.m3u8\n",
		"media playlist":   "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n",
		"no variants":      "#EXTM3U\n#EXT-X-VERSION:3\n",
		"other subs group": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES=\"cc\"\na.m3u8\n",
	} {
		if _, err := AddSubtitles([]byte(bad), tag); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := AddSubtitles([]byte(master), "#EXT-X-STREAM-INF:BANDWIDTH=1"); err == nil {
		t.Error("a line that is not EXT-X-MEDIA accepted")
	}
	for _, args := range [][3]string{{"", "en", "a.m3u8"}, {"x", "en", ""}, {`say "hi"`, "en", "a.m3u8"}, {"x", "en\n", "a.m3u8"}} {
		if _, err := MediaTag(args[0], args[1], args[2]); err == nil {
			t.Errorf("MediaTag%q accepted", args)
		}
	}
}

func TestAttributes(t *testing.T) {
	got, ok := attributes(`BANDWIDTH=1,junk,CODECS="a,b",NAME="x=y",AUDIO=aud`)
	if !ok || got["BANDWIDTH"] != "1" || got["CODECS"] != "a,b" || got["NAME"] != "x=y" || got["AUDIO"] != "aud" || len(got) != 4 {
		t.Errorf("%q", got)
	}
	if _, ok := attributes(`URI="unclosed`); ok {
		t.Error("unclosed quote accepted")
	}
}

func FuzzAddSubtitles(f *testing.F) {
	f.Add([]byte(master))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES=\"subs\"\na.m3u8\n"))
	tag, _ := MediaTag("English", "en", "subs.m3u8")
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := AddSubtitles(data, tag)
		if err != nil {
			return
		}
		if strings.Count(string(out), tag+"\n") != 1 {
			t.Fatalf("tag not added once:\n%s", out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			a, _ := attributes(strings.TrimPrefix(l, "#EXT-X-STREAM-INF:"))
			if strings.HasPrefix(l, "#EXT-X-STREAM-INF:") && a["SUBTITLES"] != GroupID {
				t.Fatalf("variant without the subtitles group: %q", l)
			}
		}
		again, err := AddSubtitles(out, tag)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent (%v):\n%s\n---\n%s", err, out, again)
		}
	})
}
