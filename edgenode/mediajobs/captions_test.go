package mediajobs

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

func requirePocketsphinx(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pocketsphinx_continuous"); err != nil {
		testutil.Missing(t, "pocketsphinx is not installed")
	}
}

// TestCaptionsJob prepares an asset of recorded speech, captions it twice
// (a lapsed lease runs a job again) and checks the outputs: the WebVTT
// file hears the word, the subtitles rendition is stored, the master
// playlist lists it once, and progress rises to 100.
func TestCaptionsJob(t *testing.T) {
	requirePocketsphinx(t)
	speech := "/usr/share/sounds/alsa/Front_Center.wav"
	if _, err := os.Stat(speech); err != nil {
		testutil.Missing(t, "alsa-utils recordings not installed")
	}
	store := newStore(t)
	r := newRunner(t, store)
	prefix := assetPrefix(t, "ast_speech")
	src := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 3, Audio: true, AudioFile: speech})
	putFile(t, store, prefix+objstore.SourceFile, src)
	if _, err := r.Run(t.Context(), job(t, protocol.JobVOD, protocol.VODJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix}), nil); err != nil {
		t.Fatal(err)
	}
	cj := job(t, protocol.JobCaptions, protocol.CaptionsJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix, Language: "en"})
	for run := 0; run < 2; run++ {
		rec := &recorder{}
		res, err := r.Run(t.Context(), cj, rec.add)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		rec.check(t)
		if c := res.Captions; c == nil || c.VTT != prefix+"captions/en.vtt" || c.Playlist != prefix+"hls/subs_en/index.m3u8" || c.Cues == 0 {
			t.Fatalf("run %d: result %+v", run, res.Captions)
		}
	}
	if vtt := getObject(t, store, prefix+"captions/en.vtt"); !bytes.Contains(bytes.ToLower(vtt), []byte("center")) {
		t.Errorf("captions/en.vtt does not hear center:\n%s", vtt)
	}
	subs := string(getObject(t, store, prefix+"hls/subs_en/index.m3u8"))
	if !strings.Contains(subs, "subs_0.vtt") || !strings.Contains(subs, "#EXT-X-ENDLIST") {
		t.Errorf("subtitles playlist:\n%s", subs)
	}
	if seg := getObject(t, store, prefix+"hls/subs_en/subs_0.vtt"); !bytes.HasPrefix(seg, []byte("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:")) {
		t.Errorf("subtitles segment:\n%s", seg)
	}
	master := string(getObject(t, store, prefix+"hls/master.m3u8"))
	if n := strings.Count(master, "#EXT-X-MEDIA:TYPE=SUBTITLES"); n != 1 || !strings.Contains(master, `URI="subs_en/index.m3u8"`) {
		t.Errorf("master playlist has %d subtitles renditions:\n%s", n, master)
	}
	if n, v := strings.Count(master, "#EXT-X-STREAM-INF:"), strings.Count(master, `SUBTITLES="subs"`); n == 0 || n != v {
		t.Errorf("%d variants, %d with the subtitles group:\n%s", n, v, master)
	}
}

// TestCaptionsJobRefused: what a retry cannot fix fails permanently, with
// a reason.
func TestCaptionsJobRefused(t *testing.T) {
	requirePocketsphinx(t)
	store := newStore(t)
	r := newRunner(t, store)
	prefix := assetPrefix(t, "ast_none")
	for _, tc := range []struct {
		lang, want string
	}{
		{"fr", "--whisper-url"},
		{"../en", "language"},
		{"en", "no HLS master playlist"},
	} {
		_, err := r.Run(t.Context(), job(t, protocol.JobCaptions, protocol.CaptionsJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix, Language: tc.lang}), nil)
		if !IsPermanent(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a permanent error about %s", tc.lang, err, tc.want)
		}
	}
	if types := r.Types(); types[len(types)-1] != protocol.JobCaptions {
		t.Errorf("types with pocketsphinx: %v", types)
	}

	none, err := NewRunner(Config{Store: store, WorkDir: t.TempDir(), Logger: testutil.Logger(t),
		Captions: CaptionsConfig{Pocketsphinx: "/nonexistent/pocketsphinx_continuous"}})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	for _, typ := range none.Types() {
		if typ == protocol.JobCaptions {
			t.Errorf("a runner without an engine offers captions jobs")
		}
	}
	_, err = none.Run(t.Context(), job(t, protocol.JobCaptions, protocol.CaptionsJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix, Language: "en"}), nil)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "speech-to-text engine") {
		t.Errorf("no engine: %v", err)
	}
	if _, err := NewRunner(Config{Store: store, WorkDir: t.TempDir(), Captions: CaptionsConfig{WhisperURL: "ftp://x"}}); err == nil || !strings.Contains(err.Error(), "--whisper-url") {
		t.Errorf("bad --whisper-url: %v", err)
	}
}

func TestParseMediaTiming(t *testing.T) {
	pl := "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init_0.mp4\"\n#EXTINF:2.000000,\nseg_00000.m4s\n#EXTINF:1.500000,\nseg_00001.m4s\n#EXT-X-ENDLIST\n"
	total, init, first := parseMediaTiming([]byte(pl))
	if total != 3500*time.Millisecond || init != "init_0.mp4" || first != "seg_00000.m4s" {
		t.Fatalf("parseMediaTiming = %s %q %q", total, init, first)
	}
	for u, ok := range map[string]bool{"720p/index.m3u8": true, "../x.m3u8": false, "/abs.m3u8": false, "http://h/x": false, "a/../../b": false, "x?y": false} {
		if relativeURI(u) != ok {
			t.Errorf("relativeURI(%q) = %v", u, !ok)
		}
	}
	if n := languageName("pt-BR"); n != "Português (pt-BR)" {
		t.Errorf("languageName(pt-BR) = %q", n)
	}
}
