package transcode

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// Tests in this file run the real ffmpeg and ffprobe on a few seconds of
// generated media (package mediatest).

// sourceFLV returns a 6 s FLV test pattern (H.264, 1 s GOP) of the given
// size, with a 440 Hz AAC tone when audio is set, like a publisher sends.
func sourceFLV(t *testing.T, w, h int, audio bool) string {
	t.Helper()
	return mediatest.Remuxed(t, mediatest.Spec{Width: w, Height: h, Seconds: 6, GOP: 30, Audio: audio}, "flv")
}

func ffprobe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", append([]string{"-v", "error"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ffprobe %q: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// tryDuration is the duration ffprobe reads from path, or 0.
func tryDuration(t *testing.T, path string) float64 {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	d, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	return d
}

func probeDuration(t *testing.T, path string) float64 {
	t.Helper()
	out := ffprobe(t, "-show_entries", "format=duration", "-of", "csv=p=0", path)
	d, err := strconv.ParseFloat(out, 64)
	if err != nil {
		t.Fatalf("duration of %s: %q", path, out)
	}
	return d
}

// run starts args and, if feed is set, writes it to ffmpeg's stdin.
func run(t *testing.T, args []string, feed string) *Process {
	t.Helper()
	p, err := Start(t.Context(), ProcessConfig{Args: args, Stdin: feed != "", Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { p.Stop(time.Second) })
	if feed != "" {
		f, err := os.Open(feed)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := io.Copy(p.Stdin(), f); err != nil {
			t.Fatalf("feed ffmpeg: %v\n%s", err, strings.Join(p.StderrTail(), "\n"))
		}
	}
	return p
}

type variant struct {
	name   string
	height int
}

var streamInf = regexp.MustCompile(`^#EXT-X-STREAM-INF:BANDWIDTH=(\d+),RESOLUTION=(\d+)x(\d+),CODECS="([^"]+)"`)

// checkHLS checks what a player needs: a master playlist naming every
// variant, and per variant a finished playlist whose init segment and
// media segments exist, with no temporary file left behind.
func checkHLS(t *testing.T, dir string, want []variant, audio bool) {
	t.Helper()
	master, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(master), "\n")
	var got []variant
	for i, l := range lines {
		if !strings.HasPrefix(l, "#EXT-X-STREAM-INF:") {
			continue
		}
		m := streamInf.FindStringSubmatch(l)
		if m == nil || i+1 >= len(lines) {
			t.Fatalf("variant without BANDWIDTH, RESOLUTION and CODECS: %q", l)
		}
		codecs := m[4]
		if !strings.HasPrefix(codecs, "avc1.4d") || strings.Contains(codecs, "mp4a") != audio {
			t.Errorf("CODECS %q (audio %v)", codecs, audio)
		}
		h, _ := strconv.Atoi(m[3])
		got = append(got, variant{strings.TrimSuffix(lines[i+1], "/index.m3u8"), h})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("master playlist variants %+v, want %+v:\n%s", got, want, master)
	}

	for _, v := range want {
		vdir := filepath.Join(dir, v.name)
		playlist, err := os.ReadFile(filepath.Join(vdir, "index.m3u8"))
		if err != nil {
			t.Fatal(err)
		}
		var segments []string
		var init string
		sc := bufio.NewScanner(strings.NewReader(string(playlist)))
		for sc.Scan() {
			l := sc.Text()
			if after, ok := strings.CutPrefix(l, `#EXT-X-MAP:URI="`); ok {
				init = strings.TrimSuffix(after, `"`)
			}
			if strings.HasSuffix(l, ".m4s") {
				segments = append(segments, l)
			}
		}
		if !strings.HasPrefix(init, "init") || !strings.HasSuffix(init, ".mp4") {
			t.Errorf("%s: init segment %q", v.name, init)
		}
		if len(segments) < 2 || !strings.Contains(string(playlist), "#EXT-X-ENDLIST") {
			t.Errorf("%s: %d segments, want >= 2 and an ENDLIST:\n%s", v.name, len(segments), playlist)
		}
		for _, f := range append(segments, init) {
			if fi, err := os.Stat(filepath.Join(vdir, f)); err != nil || fi.Size() == 0 {
				t.Errorf("%s: %s missing or empty: %v", v.name, f, err)
			}
		}
		entries, _ := os.ReadDir(vdir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("%s: temporary file %s left", v.name, e.Name())
			}
		}
	}

	// Streams are listed under their program and again on their own.
	streams := ffprobe(t, "-show_entries", "stream=index,codec_type", "-of", "csv=p=0", filepath.Join(dir, "master.m3u8"))
	unique := slices.Compact(slices.Sorted(slices.Values(strings.Fields(streams))))
	video, audios := 0, 0
	for _, s := range unique {
		video += strings.Count(s, ",video")
		audios += strings.Count(s, ",audio")
	}
	wantAudio := 0
	if audio {
		wantAudio = len(want)
	}
	if video != len(want) || audios != wantAudio {
		t.Errorf("ffprobe master.m3u8: %d video, %d audio streams, want %d, %d", video, audios, len(want), wantAudio)
	}
}

// checkRecording checks a recording of the whole 6 s source.
func checkRecording(t *testing.T, path string) {
	t.Helper()
	kept, err := FinalizeRecording(path)
	if err != nil || !kept {
		t.Fatalf("FinalizeRecording = %v, %v", kept, err)
	}
	if fi, _ := os.Stat(path); fi.Size() <= MinRecordingBytes {
		t.Errorf("recording is %d bytes", fi.Size())
	}
	if d := probeDuration(t, path); d < 5.5 || d > 6.6 {
		t.Errorf("recording lasts %.2f s, want about 6", d)
	}
}

var fullLadder = []variant{{"720p", 720}, {"480p", 480}, {"360p", 360}}

func TestFFmpegLiveLadderFromFile(t *testing.T) {
	src := sourceFLV(t, 1280, 720, true)
	dir := t.TempDir()
	args, err := Build(Params{Input: src, InputFormat: "flv", Source: hd, Mode: Live,
		OutDir: filepath.Join(dir, "hls"), RecordPath: filepath.Join(dir, "rec.mp4"), Progress: true})
	if err != nil {
		t.Fatal(err)
	}
	p := run(t, args, "")
	if err := waitDone(t, p, time.Minute); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, strings.Join(p.StderrTail(), "\n"))
	}
	if pr := p.Progress(); !pr.Done || pr.OutTimeMS < 5500 || pr.Frame < 170 {
		t.Errorf("last progress %+v", pr)
	}
	checkHLS(t, filepath.Join(dir, "hls"), fullLadder, true)
	checkRecording(t, filepath.Join(dir, "rec.mp4"))
}

// The edge feeds FLV on stdin: -nostdin must not get in the way of pipe:0,
// and closing stdin must end ffmpeg cleanly with finished playlists.
func TestFFmpegLiveLadderFromStdin(t *testing.T) {
	src := sourceFLV(t, 1280, 720, true)
	dir := t.TempDir()
	args, err := Build(Params{Input: "pipe:0", InputFormat: "flv", Source: hd, Mode: Live, Latency: Low,
		OutDir: filepath.Join(dir, "hls"), RecordPath: filepath.Join(dir, "rec.mp4"), Progress: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(args, "-nostdin") {
		t.Fatal("expected -nostdin")
	}
	p := run(t, args, src)
	start := time.Now()
	if err := p.Stop(30 * time.Second); err != nil {
		t.Fatalf("Stop: %v\n%s", err, strings.Join(p.StderrTail(), "\n"))
	}
	t.Logf("ffmpeg finished %v after the input ended", time.Since(start).Round(time.Millisecond))
	requireGone(t, p.PID())
	checkHLS(t, filepath.Join(dir, "hls"), fullLadder, true)
	checkRecording(t, filepath.Join(dir, "rec.mp4"))
}

func TestFFmpegSmallSourceOneRung(t *testing.T) {
	src := sourceFLV(t, 640, 360, true)
	dir := t.TempDir()
	args, err := Build(Params{Input: src, Source: Source{Width: 640, Height: 360, FrameRate: 30, HasAudio: true, HasVideo: true},
		Mode: Live, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := run(t, args, "")
	if err := waitDone(t, p, time.Minute); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, strings.Join(p.StderrTail(), "\n"))
	}
	checkHLS(t, dir, []variant{{"360p", 360}}, true)
	if _, err := os.Stat(filepath.Join(dir, "360p", "init.mp4")); err != nil {
		t.Errorf("a single rung's init segment is init.mp4: %v", err)
	}
}

func TestFFmpegNoAudio(t *testing.T) {
	src := sourceFLV(t, 854, 480, false)
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec.mp4")
	args, err := Build(Params{Input: src, InputFormat: "flv", Source: Source{Width: 854, Height: 480, FrameRate: 30, HasVideo: true},
		Mode: Live, OutDir: filepath.Join(dir, "hls"), RecordPath: rec})
	if err != nil {
		t.Fatal(err)
	}
	p := run(t, args, "")
	if err := waitDone(t, p, time.Minute); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, strings.Join(p.StderrTail(), "\n"))
	}
	checkHLS(t, filepath.Join(dir, "hls"), []variant{{"480p", 480}, {"360p", 360}}, false)
	checkRecording(t, rec)
	if got := ffprobe(t, "-show_entries", "stream=codec_type", "-of", "csv=p=0", rec); got != "video" {
		t.Errorf("recording streams %q", got)
	}
}

// A publish's recording must survive ffmpeg dying mid-stream: fragmented
// MP4 stays readable up to the last fragment written.
func TestFFmpegRecordingSurvivesKill(t *testing.T) {
	src := sourceFLV(t, 1280, 720, true)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec.mp4")
	args, err := Build(Params{Input: "pipe:0", InputFormat: "flv", Source: hd, Mode: Live,
		Ladder: []Rung{{Name: "360p", Width: 640, Height: 360, VideoKbps: 800}}, // the recording is the point
		OutDir: filepath.Join(dir, "hls"), RecordPath: rec, Progress: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(t.Context(), ProcessConfig{Args: args, Stdin: true, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(time.Second) })
	// About 4 of the 6 seconds, and stdin stays open: the publish is live.
	if _, err := p.Stdin().Write(data[:len(data)*2/3]); err != nil {
		t.Fatal(err)
	}
	// Progress is reported on a timer, not when ffmpeg runs out of input,
	// so poll what matters: how much of the recording a reader sees.
	testutil.Eventually(t, 30*time.Second, "the recording to reach 3 s", func() bool { return tryDuration(t, rec) >= 3 })
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, p, 10*time.Second); err == nil {
		t.Fatal("Wait = nil after SIGKILL")
	}
	requireGone(t, p.PID())
	if d := probeDuration(t, rec); d <= 2 {
		t.Fatalf("recording after SIGKILL lasts %.2f s, want > 2", d)
	}
	if kept, err := FinalizeRecording(rec); err != nil || !kept {
		t.Fatalf("FinalizeRecording = %v, %v", kept, err)
	}
}

// Stop in the middle of a live publish: closing stdin ends ffmpeg well
// within the timeout with finished playlists.
func TestFFmpegStopMidStream(t *testing.T) {
	src := sourceFLV(t, 640, 360, true)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args, err := Build(Params{Input: "pipe:0", InputFormat: "flv", Mode: Live, OutDir: dir, Progress: true,
		Source: Source{Width: 640, Height: 360, FrameRate: 30, HasAudio: true, HasVideo: true}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(t.Context(), ProcessConfig{Args: args, Stdin: true, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stdin().Write(data[:len(data)*2/3]); err != nil {
		t.Fatal(err)
	}
	const timeout = 10 * time.Second
	start := time.Now()
	errs := make(chan error, 3)
	for range 3 { // Stop is safe to call concurrently
		go func() { errs <- p.Stop(timeout) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("Stop: %v\n%s", err, strings.Join(p.StderrTail(), "\n"))
		}
	}
	if took := time.Since(start); took > timeout {
		t.Fatalf("Stop took %v", took)
	}
	requireGone(t, p.PID())
	checkHLS(t, dir, []variant{{"360p", 360}}, true)
}

func TestFFmpegContextCancel(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	ctx, cancel := context.WithCancel(t.Context())
	// An endless real-time input, as a publish is.
	p, err := Start(ctx, ProcessConfig{Logger: testutil.Logger(t), Args: []string{"-hide_banner", "-nostdin",
		"-progress", "pipe:1", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "null", "-"}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "ffmpeg to make progress", func() bool { return p.Progress().Frame > 0 })
	cancel()
	start := time.Now()
	t.Logf("after cancel: %v", waitDone(t, p, termGrace+2*time.Second))
	if took := time.Since(start); took > time.Second {
		t.Errorf("ffmpeg took %v to honour SIGTERM", took)
	}
	requireGone(t, p.PID())
}

// WHIP's audio is Opus in MPEG-TS: the ladder encodes it to AAC, the
// recording copies it (aac_adtstoasc would refuse it).
func TestFFmpegOpusFromMPEGTS(t *testing.T) {
	mp4 := mediatest.File(t, mediatest.Spec{Width: 640, Height: 360, Seconds: 6, GOP: 30, Audio: true})
	dir := t.TempDir()
	src := filepath.Join(dir, "opus.ts")
	mk := exec.CommandContext(t.Context(), "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", mp4,
		"-c:v", "copy", "-c:a", "libopus", "-ar", "48000", "-b:a", "64k", "-f", "mpegts", src)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make opus source: %v\n%s", err, out)
	}
	rec := filepath.Join(dir, "rec.mp4")
	args, err := Build(Params{Input: "pipe:0", InputFormat: "mpegts", Mode: Live, OutDir: filepath.Join(dir, "hls"), RecordPath: rec,
		Source: Source{Width: 640, Height: 360, FrameRate: 30, HasVideo: true, HasAudio: true, AudioCodec: "opus"}})
	if err != nil {
		t.Fatal(err)
	}
	p := run(t, args, src)
	if err := p.Stop(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, strings.Join(p.StderrTail(), "\n"))
	}
	checkHLS(t, filepath.Join(dir, "hls"), []variant{{"360p", 360}}, true)
	checkRecording(t, rec)
	if got := ffprobe(t, "-show_entries", "stream=codec_name", "-of", "csv=p=0", rec); got != "h264\nopus" {
		t.Errorf("recording streams %q, want h264 and opus", got)
	}
	audio := ffprobe(t, "-select_streams", "a:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
		filepath.Join(dir, "hls", "360p", "index.m3u8"))
	if f := strings.Fields(audio); len(f) == 0 || slices.ContainsFunc(f, func(c string) bool { return c != "aac" }) {
		t.Errorf("ladder audio %q, want aac", audio)
	}
}
