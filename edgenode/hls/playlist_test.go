package hls

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/captions"
)

const tq = "token=T0k.en_-"

// The playlists under testdata/stream were written by ffmpeg 5.1's HLS
// muxer with fMP4 segments and a var_stream_map of two video rungs and
// one audio rendition in an audio group:
//
//	-var_stream_map 'v:0,agroup:aud,name:720p v:1,agroup:aud,name:480p a:0,agroup:aud,name:audio,default:yes,language:en'
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/stream/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRewriteMasterPlaylist(t *testing.T) {
	got := string(RewritePlaylist(readTestdata(t, "master.m3u8"), tq))
	want := `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aud",NAME="audio_2",DEFAULT=YES,LANGUAGE="en",URI="audio/index.m3u8?token=T0k.en_-"
#EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=320x180,CODECS="avc1.f4000d,mp4a.40.2",AUDIO="group_aud"
720p/index.m3u8?token=T0k.en_-

#EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=160x90,CODECS="avc1.f4000b,mp4a.40.2",AUDIO="group_aud"
480p/index.m3u8?token=T0k.en_-

`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRewriteVariantPlaylist(t *testing.T) {
	got := string(RewritePlaylist(readTestdata(t, "720p/index.m3u8"), tq))
	want := `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init_0.mp4?token=T0k.en_-"
#EXTINF:2.000000,
seg_00000.m4s?token=T0k.en_-
#EXTINF:2.000000,
seg_00001.m4s?token=T0k.en_-
#EXTINF:1.000000,
seg_00002.m4s?token=T0k.en_-
#EXT-X-ENDLIST
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRewritePlaylist(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"no uris", "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-ENDLIST\n", "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-ENDLIST\n"},
		{"no trailing newline", "#EXTINF:2,\nseg.m4s", "#EXTINF:2,\nseg.m4s?token=T0k.en_-"},
		{"crlf kept", "#EXTM3U\r\n#EXT-X-MAP:URI=\"init.mp4\"\r\nseg.m4s\r\n", "#EXTM3U\r\n#EXT-X-MAP:URI=\"init.mp4?token=T0k.en_-\"\r\nseg.m4s?token=T0k.en_-\r\n"},
		{"blank lines kept", "\n  \n\t\r\n", "\n  \n\t\r\n"},
		{"whitespace around a uri kept", "  seg.m4s \t\n", "  seg.m4s?token=T0k.en_- \t\n"},
		{"existing query", "seg.m4s?a=1\n", "seg.m4s?a=1&token=T0k.en_-\n"},
		{"existing query ending in &", "seg.m4s?a=1&\n", "seg.m4s?a=1&token=T0k.en_-\n"},
		{"empty query", "seg.m4s?\n", "seg.m4s?token=T0k.en_-\n"},
		{"old token replaced", "seg.m4s?token=old&a=1\n", "seg.m4s?a=1&token=T0k.en_-\n"},
		{"similar name kept", "seg.m4s?xtoken=1&token2=2\n", "seg.m4s?xtoken=1&token2=2&token=T0k.en_-\n"},
		{"fragment stays last", "seg.m4s#t=1\n", "seg.m4s?token=T0k.en_-#t=1\n"},
		{"root-relative", "/hls/p/seg.m4s\n", "/hls/p/seg.m4s?token=T0k.en_-\n"},
		{"parent-relative", "../p/seg.m4s\n", "../p/seg.m4s?token=T0k.en_-\n"},
		{"dot-slash with colon", "./a:b.m4s\n", "./a:b.m4s?token=T0k.en_-\n"},
		{"absolute https left alone", "https://cdn.example/seg.m4s\n", "https://cdn.example/seg.m4s\n"},
		{"network-path left alone", "//cdn.example/seg.m4s\n", "//cdn.example/seg.m4s\n"},
		{"data uri left alone", "#EXT-X-MAP:URI=\"data:video/mp4;base64,AAAA\"\n", "#EXT-X-MAP:URI=\"data:video/mp4;base64,AAAA\"\n"},
		{"key uri skd left alone", "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://k1\"\n", "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://k1\"\n"},
		{"key uri relative", "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x1\n", "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin?token=T0k.en_-\",IV=0x1\n"},
		{"comment left alone", "# see seg.m4s\n", "# see seg.m4s\n"},
		{"extinf title left alone", "#EXTINF:2,URI=\"x\"\nseg.m4s\n", "#EXTINF:2,URI=\"x\"\nseg.m4s?token=T0k.en_-\n"},
		{"empty uri attribute", "#EXT-X-MAP:URI=\"\"\n", "#EXT-X-MAP:URI=\"\"\n"},
		{"uri= inside another quoted value", "#EXT-X-MEDIA:NAME=\"a,URI=\\\",URI=\"b.m3u8\"\n", "#EXT-X-MEDIA:NAME=\"a,URI=\\\",URI=\"b.m3u8?token=T0k.en_-\"\n"},
		{"unterminated quote copied", "#EXT-X-MAP:URI=\"init.mp4\n", "#EXT-X-MAP:URI=\"init.mp4\n"},
		{"unquoted uri left alone", "#EXT-X-MAP:URI=init.mp4\n", "#EXT-X-MAP:URI=init.mp4\n"},
		{"attribute named like uri", "#EXT-X-X:XURI=\"a\",URIX=\"b\"\n", "#EXT-X-X:XURI=\"a\",URIX=\"b\"\n"},
		{"i-frame stream", "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.4d401f\",URI=\"720p/iframes.m3u8\"\n",
			"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.4d401f\",URI=\"720p/iframes.m3u8?token=T0k.en_-\"\n"},
		{"low-latency tags",
			"#EXT-X-PART:DURATION=0.5,URI=\"seg_7.0.m4s\",INDEPENDENT=YES\n" +
				"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg_7.1.m4s\"\n" +
				"#EXT-X-RENDITION-REPORT:URI=\"../480p/index.m3u8\",LAST-MSN=7,LAST-PART=0\n",
			"#EXT-X-PART:DURATION=0.5,URI=\"seg_7.0.m4s?token=T0k.en_-\",INDEPENDENT=YES\n" +
				"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg_7.1.m4s?token=T0k.en_-\"\n" +
				"#EXT-X-RENDITION-REPORT:URI=\"../480p/index.m3u8?token=T0k.en_-\",LAST-MSN=7,LAST-PART=0\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(RewritePlaylist([]byte(tc.in), tq))
			if got != tc.want {
				t.Fatalf("RewritePlaylist(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if again := string(RewritePlaylist([]byte(got), tq)); again != got {
				t.Errorf("not idempotent:\n got %q\nthen %q", got, again)
			}
		})
	}
}

func TestRewritePlaylistEmptyQuery(t *testing.T) {
	src := readTestdata(t, "master.m3u8")
	if got := RewritePlaylist(src, ""); !bytes.Equal(got, src) {
		t.Errorf("empty query changed the playlist:\n%s", got)
	}
}

func TestRewritePlaylistNewToken(t *testing.T) {
	once := RewritePlaylist(readTestdata(t, "720p/index.m3u8"), "token=old")
	got := string(RewritePlaylist(once, "token=new"))
	if strings.Contains(got, "old") || strings.Count(got, "?token=new") != 4 {
		t.Errorf("old token not replaced:\n%s", got)
	}
}

func FuzzRewritePlaylist(f *testing.F) {
	for _, name := range []string{"master.m3u8", "720p/index.m3u8", "audio/index.m3u8"} {
		f.Add(readTestdata(f, name), "token=abc")
	}
	f.Add([]byte("#EXT-X-PART:URI=\"a?token=x&b#c\",X=\"\n\r\n?&#\n//x\nhttps:y\n#EXT-X-Y:URI=\"\",,=,URI=\"z\""), "token=a.b_c")
	f.Add([]byte("a?&&token&token=1\n"), "token=z&x=1")
	f.Fuzz(func(t *testing.T, src []byte, query string) {
		orig := bytes.Clone(src)
		if query == "" {
			if got := RewritePlaylist(src, query); !bytes.Equal(got, src) {
				t.Fatal("empty query changed the playlist")
			}
			return
		}
		// The queries the origin passes: name=value with URL-safe bytes.
		if !validQuery(query) {
			return
		}
		out := RewritePlaylist(src, query)
		if !bytes.Equal(src, orig) {
			t.Fatal("input modified")
		}
		if bytes.Count(out, []byte{'\n'}) != bytes.Count(src, []byte{'\n'}) {
			t.Fatalf("line count changed: %q -> %q", src, out)
		}
		if again := RewritePlaylist(out, query); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q\n%q", src, out, again)
		}
		if !hasURIs(src) && !bytes.Equal(out, src) {
			t.Fatalf("playlist without URIs changed: %q -> %q", src, out)
		}
	})
}

func validQuery(q string) bool {
	for _, c := range []byte(q) {
		if !idByte(c) && c != '.' && c != '=' && c != '&' {
			return false
		}
	}
	return true
}

// hasURIs reports, independently of the rewriter, whether src may hold a
// URI: a line not starting with '#' that is not blank, or a URI= anywhere.
func hasURIs(src []byte) bool {
	if bytes.Contains(src, []byte("URI=")) {
		return true
	}
	for line := range bytes.Lines(src) {
		s := bytes.Trim(line, " \t\r\n")
		if len(s) > 0 && s[0] != '#' {
			return true
		}
	}
	return false
}

func BenchmarkRewritePlaylist(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init_0.mp4\"\n")
	for range 300 { // ten minutes of 2-second segments
		sb.WriteString("#EXTINF:2.000000,\nseg_00000.m4s\n")
	}
	src := []byte(sb.String())
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		RewritePlaylist(src, "token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	}
}

// TestRewriteSubtitles: a master playlist with a subtitles rendition (as a
// captions job writes it) carries the token into the rendition's URI, and
// the subtitles playlist into each WebVTT segment, so a signed asset's
// captions play.
func TestRewriteSubtitles(t *testing.T) {
	master := []byte("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\n720p/index.m3u8\n")
	tag, err := captions.MediaTag("English", "en", "subs_en/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if master, err = captions.AddSubtitles(master, tag); err != nil {
		t.Fatal(err)
	}
	got := string(RewritePlaylist(master, "token=T0k"))
	for _, want := range []string{
		`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,URI="subs_en/index.m3u8?token=T0k"`,
		`#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720,SUBTITLES="subs"` + "\n720p/index.m3u8?token=T0k\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rewritten master lacks %q:\n%s", want, got)
		}
	}
	if again := string(RewritePlaylist([]byte(got), "token=T0k")); again != got {
		t.Errorf("rewriting twice changed it:\n%s", again)
	}

	cues := []captions.Cue{{Start: time.Second, End: 2 * time.Second, Text: "center"}}
	subs, _, err := captions.SegmentVTT(cues, captions.SegmentOptions{Duration: 6 * time.Second, Total: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got = string(RewritePlaylist(subs, "token=T0k"))
	if !strings.Contains(got, "\nsubs_0.vtt?token=T0k\n") || !strings.Contains(got, "\nsubs_1.vtt?token=T0k\n") {
		t.Errorf("rewritten subtitles playlist:\n%s", got)
	}
}
