package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/edgenode/captions"
	"github.com/livestreams/livestreams/edgenode/captions/captionstest"
	"github.com/livestreams/livestreams/edgenode/mediajobs"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// spokenWord is one of Debian's alsa-utils recordings, placed in the
// published audio from Start for Duration, and the word pocketsphinx
// hears in it.
type spokenWord struct {
	File, Word      string
	Start, Duration float64
}

// speechGap is the silence before, between and after the recordings.
const speechGap = 2.5

// speechTrack joins Front_Center, Side_Left and Rear_Right with silences
// into one WAV and says where each was placed.
func speechTrack(t *testing.T) (string, []spokenWord, float64) {
	t.Helper()
	words := []spokenWord{{File: "Front_Center.wav", Word: "center"}, {File: "Side_Left.wav", Word: "left"}, {File: "Rear_Right.wav", Word: "right"}}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}
	var filter strings.Builder
	at, n := 0.0, 0
	silence := func() {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("anullsrc=r=48000:cl=mono:d=%g", speechGap))
		fmt.Fprintf(&filter, "[%d:a]aresample=48000,aformat=sample_fmts=s16:channel_layouts=mono[s%d];", n, n)
		n++
		at += speechGap
	}
	for i := range words {
		silence()
		p := filepath.Join("/usr/share/sounds/alsa", words[i].File)
		if _, err := os.Stat(p); err != nil {
			testutil.Missing(t, "alsa-utils recordings not installed: %v", err)
		}
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", p).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", p, err)
		}
		d, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		words[i].Start, words[i].Duration = at, d
		args = append(args, "-i", p)
		fmt.Fprintf(&filter, "[%d:a]aresample=48000,aformat=sample_fmts=s16:channel_layouts=mono[s%d];", n, n)
		n++
		at += d
	}
	silence()
	for i := 0; i < n; i++ {
		fmt.Fprintf(&filter, "[s%d]", i)
	}
	fmt.Fprintf(&filter, "concat=n=%d:v=0:a=1[out]", n)
	wav := filepath.Join(t.TempDir(), "speech.wav")
	args = append(args, "-filter_complex", filter.String(), "-map", "[out]", wav)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("join the recordings: %v: %s", err, out)
	}
	return wav, words, at
}

// firstSound is the time of the first sound in a media file's audio: the
// end of the silence it starts with.
func firstSound(t *testing.T, ctx context.Context, input string) float64 {
	t.Helper()
	wav := filepath.Join(t.TempDir(), "first.wav")
	if err := captions.ExtractAudio(ctx, "ffmpeg", input, wav); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-i", wav, "-af", "silencedetect=noise=-35dB:d=0.3", "-f", "null", "-").CombinedOutput()
	m := regexp.MustCompile(`silence_end: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return 0 // it starts with sound
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestCaptionsOfRecording publishes real speech (alsa-utils recordings
// between silences) with a video track to a stream with auto captions in
// English: its recording becomes an asset, the captions job runs with the
// built-in pocketsphinx engine, and the WebVTT has "center", "left" and
// "right" in cues within a second of where they were placed, allowing for
// where the recording started. The asset's master playlist lists the
// subtitles rendition, which plays through the edge.
func TestCaptionsOfRecording(t *testing.T) {
	t.Parallel()
	testCaptionsOfRecording(t, mediajobs.CaptionsConfig{})
}

// TestCaptionsWithWhisperServer is the same with --whisper-url pointing at
// a loopback OpenAI-compatible transcription server (pocketsphinx behind
// it).
func TestCaptionsWithWhisperServer(t *testing.T) {
	t.Parallel()
	requirePocketsphinx(t)
	ws := captionstest.NewWhisperServer(t, "sk-test-key", "whisper-test")
	testCaptionsOfRecording(t, mediajobs.CaptionsConfig{WhisperURL: ws.URL, WhisperAPIKey: "sk-test-key", WhisperModel: "whisper-test"})
	if ws.Requests() == 0 {
		t.Fatal("the whisper server was never asked")
	}
}

func requirePocketsphinx(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pocketsphinx_continuous"); err != nil {
		testutil.Missing(t, "pocketsphinx is not installed (Debian: pocketsphinx, pocketsphinx-en-us)")
	}
}

func testCaptionsOfRecording(t *testing.T, engine mediajobs.CaptionsConfig) {
	mediatest.RequireFFmpeg(t)
	requirePocketsphinx(t)
	wav, words, total := speechTrack(t)
	c := startDevWith(t, func(cfg *devConfig) { cfg.Captions = engine })
	s := newStream(t, c, client.StreamCreate{Name: "captions", AutoCaptions: true, CaptionsLanguage: "en"})

	seconds := int(total + 1)
	pub := mediatest.Publish(t, c.RTMPURL(s.Key), mediatest.Live{Spec: mediatest.Spec{Width: 320, Height: 180, Seconds: seconds, GOP: 30,
		Audio: true, AudioFile: wav}})
	if err := pub.Wait(); err != nil {
		t.Fatalf("publish: %v", err)
	}
	a := recordingOf(t, c, s.ID, 2*time.Minute, func(a recordingAsset) bool { return a.Status == "ready" })
	start := time.Now()
	testutil.EventuallyEvery(t, 4*time.Minute, devPoll, "the recording's English captions", func() bool {
		var err error
		if a, err = c.API.Assets().Get(context.Background(), a.ID); err != nil || len(a.Captions) == 0 {
			return false
		}
		tr := a.Captions[0]
		if tr.Status == "failed" || tr.Status == "cancelled" {
			t.Fatalf("captions job %s %s: %s", tr.JobID, tr.Status, tr.Error)
		}
		return tr.Status == "succeeded"
	})
	tr := a.Captions[0]
	t.Logf("captions job %s took %s after the recording was ready", tr.JobID, time.Since(start).Round(100*time.Millisecond))
	if tr.Language != "en" || tr.VTTURL == "" {
		t.Fatalf("caption track: %+v", tr)
	}

	// Where the recording started in the published audio: the first
	// sound in each, measured the same way.
	ctx := testutil.Context(t, time.Minute)
	source := filepath.Join(c.dataDir, "objects", "orgs", a.OrgID, "assets", a.ID, "source.mp4")
	offset := firstSound(t, ctx, wav) - firstSound(t, ctx, source)
	t.Logf("the recording starts %.3f s into the published audio", offset)

	code, body, final := get(t, tr.VTTURL)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", final, code, body)
	}
	cues, err := captions.ParseVTT(body)
	if err != nil {
		t.Fatalf("captions %s: %v\n%s", final, err, body)
	}
	t.Logf("captions:\n%s", body)
	for _, w := range words {
		lo, hi := w.Start-offset-1, w.Start+w.Duration-offset+1
		found := false
		for _, cue := range cues {
			if strings.Contains(strings.ToLower(cue.Text), w.Word) && cue.Start.Seconds() >= lo && cue.Start.Seconds() <= hi {
				found = true
			}
		}
		if !found {
			t.Errorf("no cue with %q starting between %.2f s and %.2f s (placed at %.2f s of the published audio)", w.Word, lo, hi, w.Start)
		}
	}

	// The master playlist lists the subtitles rendition; its playlist and
	// segments come through the edge.
	code, master, masterURL := get(t, c.PlaybackURL(a.PlaybackID))
	if code != http.StatusOK {
		t.Fatalf("master playlist: %d %s", code, master)
	}
	m := regexp.MustCompile(`#EXT-X-MEDIA:TYPE=SUBTITLES,[^\n]*LANGUAGE="en"[^\n]*URI="([^"]+)"`).FindSubmatch(master)
	if m == nil || !strings.Contains(string(master), `SUBTITLES="subs"`) {
		t.Fatalf("master playlist has no English subtitles rendition:\n%s", master)
	}
	subsURL := resolve(masterURL, string(m[1]))
	code, subs, _ := get(t, subsURL)
	if code != http.StatusOK || !strings.Contains(string(subs), "#EXT-X-ENDLIST") {
		t.Fatalf("subtitles playlist %s: %d\n%s", subsURL, code, subs)
	}
	_, segs, _ := mediaPlaylist(string(subs))
	if len(segs) == 0 {
		t.Fatalf("subtitles playlist has no segments:\n%s", subs)
	}
	var joined strings.Builder
	for _, seg := range segs {
		code, vtt, u := get(t, resolve(subsURL, seg))
		if code != http.StatusOK || !strings.HasPrefix(string(vtt), "WEBVTT") || !strings.Contains(string(vtt), "X-TIMESTAMP-MAP=") {
			t.Fatalf("subtitles segment %s: %d\n%s", u, code, vtt)
		}
		joined.Write(vtt)
	}
	for _, w := range words {
		if !strings.Contains(strings.ToLower(joined.String()), w.Word) {
			t.Errorf("the subtitles segments lack %q", w.Word)
		}
	}
	t.Run("hls.js in chromium", func(t *testing.T) { hlsJSSubtitles(t, masterURL) })
}

// hlsJSSubtitles loads the master playlist with hls.js in a headless
// Debian chromium (e2e/browser, set up with npm install there) and checks
// it lists the English subtitle track.
func hlsJSSubtitles(t *testing.T, masterURL string) {
	chromium := cmp.Or(os.Getenv("CHROMIUM"), "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		testutil.Missing(t, "no chromium (Debian: apt-get install chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		testutil.Missing(t, "no node")
	}
	if _, err := os.Stat("e2e/browser/node_modules/hls.js"); err != nil {
		testutil.Missing(t, "e2e/browser is not installed (cd e2e/browser && npm install)")
	}
	ctx := testutil.Context(t, 90*time.Second)
	cmd := exec.CommandContext(ctx, "node", "subtitles.mjs", masterURL)
	cmd.Dir = "e2e/browser"
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hls.js: %v: %s", err, stderr.String())
	}
	var got struct {
		SubtitleTracks int `json:"subtitleTracks"`
		Tracks         []struct {
			Name string `json:"name"`
			Lang string `json:"lang"`
		} `json:"tracks"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("hls.js answer %q: %v", out, err)
	}
	t.Logf("hls.js: %s", strings.TrimSpace(string(out)))
	if got.SubtitleTracks != 1 || got.Tracks[0].Lang != "en" {
		t.Fatalf("hls.js lists %d subtitle tracks (%+v), want the English one", got.SubtitleTracks, got.Tracks)
	}
}
