package captions

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
)

// alsaSounds is where Debian's alsa-utils keeps its human recordings.
const alsaSounds = "/usr/share/sounds/alsa"

// requireSpeechTools fails the test (never skips it: these tests are the
// proof that captions work) when pocketsphinx or the recordings are missing.
func requireSpeechTools(t *testing.T) {
	t.Helper()
	mediatest.RequireFFmpeg(t)
	if _, err := exec.LookPath("pocketsphinx_continuous"); err != nil {
		t.Fatalf("pocketsphinx_continuous is required (`make deps-test` installs the Debian packages pocketsphinx and pocketsphinx-en-us): %v", err)
	}
	if _, err := os.Stat(filepath.Join(alsaSounds, "Front_Center.wav")); err != nil {
		t.Fatalf("the alsa-utils recordings are required (`make deps-test` installs the Debian package alsa-utils): %v", err)
	}
}

// part of a speech fixture: a recording of alsa-utils, or silence when
// Sound is empty.
type part struct {
	Sound   string
	Silence time.Duration
}

// speechFile joins recordings and silences into one file in dir; with
// video it is an MP4 with a test-pattern video track and AAC audio, as a
// recording is, else a 48 kHz WAV file. It returns the file and the time
// each recording starts at.
func speechFile(t *testing.T, dir string, video bool, parts ...part) (string, []time.Duration) {
	t.Helper()
	var args, inputs []string
	var starts []time.Duration
	var at time.Duration
	for i, p := range parts {
		if p.Sound == "" {
			args = append(args, "-f", "lavfi", "-t", fmt.Sprintf("%.3f", p.Silence.Seconds()), "-i", "anullsrc=r=48000:cl=mono")
			inputs = append(inputs, fmt.Sprintf("[%d]", i))
			at += p.Silence
			continue
		}
		path := filepath.Join(alsaSounds, p.Sound+".wav")
		args = append(args, "-i", path)
		inputs = append(inputs, fmt.Sprintf("[%d]", i))
		starts = append(starts, at)
		at += wavDuration(t, path)
	}
	filter := strings.Join(inputs, "") + fmt.Sprintf("concat=n=%d:v=0:a=1,aformat=sample_rates=48000:channel_layouts=mono[a]", len(parts))
	out := filepath.Join(dir, "speech.wav")
	codec := []string{"-map", "[a]", "-c:a", "pcm_s16le"}
	if video {
		out = filepath.Join(dir, "speech.mp4")
		args = append(args, "-f", "lavfi", "-t", fmt.Sprintf("%.3f", at.Seconds()), "-i", "testsrc2=size=320x180:rate=15")
		codec = []string{"-map", fmt.Sprintf("%d:v", len(parts)), "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"}
	}
	cmd := exec.Command("ffmpeg", append(append(append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...), "-filter_complex", filter), append(codec, out)...)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make speech fixture: %v: %s", err, msg)
	}
	return out, starts
}

// wavDuration reads the length of a PCM WAV recording from its header.
func wavDuration(t *testing.T, path string) time.Duration {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var s float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &s); err != nil {
		t.Fatalf("ffprobe %s: duration %q: %v", path, out, err)
	}
	return time.Duration(s * float64(time.Second))
}

// heard is where a word was heard: the cue that holds it.
func heard(cues []Cue, w string) []Cue {
	var out []Cue
	for _, c := range cues {
		for _, f := range strings.Fields(strings.ToLower(c.Text)) {
			if strings.Trim(f, ".,!?;:") == w {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// expectWords checks that each word is heard, in order, in a cue that
// overlaps its recording's time (within tolerance of its start and end).
func expectWords(t *testing.T, cues []Cue, words []string, starts []time.Duration, length, tolerance time.Duration) {
	t.Helper()
	last := time.Duration(-1)
	for i, w := range words {
		from, to := starts[i]-tolerance, starts[i]+length+tolerance
		found := false
		for _, c := range heard(cues, w) {
			if c.Start >= from && c.End <= to && c.Start > last {
				found, last = true, c.Start
				break
			}
		}
		if !found {
			t.Errorf("word %q (spoken at %s) not heard in a cue within %s..%s, after %s; cues:\n%s", w, starts[i], from, to, last, dumpCues(cues))
		}
	}
}

func dumpCues(cues []Cue) string {
	var b strings.Builder
	for _, c := range cues {
		fmt.Fprintf(&b, "  %s --> %s %q\n", c.Start, c.End, c.Text)
	}
	return b.String()
}

func newPocketsphinx(t *testing.T) *Pocketsphinx {
	t.Helper()
	requireSpeechTools(t)
	ps, err := NewPocketsphinx(PocketsphinxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func transcribe(t *testing.T, ctx context.Context, cfg Config, input string) ([]Cue, []float64) {
	t.Helper()
	cfg.WorkDir = t.TempDir()
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var progress []float64
	cues, err := tr.Transcribe(ctx, input, "en", func(f float64) { progress = append(progress, f) })
	if err != nil {
		t.Fatalf("transcribe %s: %v", input, err)
	}
	left, _ := os.ReadDir(cfg.WorkDir)
	if len(left) != 0 {
		t.Errorf("work dir not cleaned: %v", left)
	}
	return cues, progress
}

// threeWords is the fixture of the issue: "center", "left", "right" with
// silences between.
var threeWords = []part{
	{Silence: 2 * time.Second}, {Sound: "Front_Center"},
	{Silence: 3 * time.Second}, {Sound: "Side_Left"},
	{Silence: 3 * time.Second}, {Sound: "Rear_Right"},
	{Silence: 2 * time.Second},
}

func TestPocketsphinxHearsSpeechInARecording(t *testing.T) {
	ps := newPocketsphinx(t)
	input, starts := speechFile(t, t.TempDir(), true, threeWords...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cues, progress := transcribe(t, ctx, Config{Engine: ps}, input)
	t.Logf("cues:\n%s", dumpCues(cues))
	expectWords(t, cues, []string{"center", "left", "right"}, starts, 1600*time.Millisecond, time.Second)
	if len(progress) < 3 || progress[0] != 0 || progress[len(progress)-1] != 1 {
		t.Errorf("progress %v: want 0 first, 1 last", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] < progress[i-1] {
			t.Errorf("progress goes back: %v", progress)
		}
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
