package transcode

import (
	"bufio"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/llhls"
	"github.com/livestreams/livestreams/shared/mediatest"
)

// obs is what OBS sends by default at 720p: H.264 High, 2500 kbit/s CBR,
// a keyframe every 2 s.
func obs() Source {
	return Source{Width: 1280, Height: 720, FrameRate: 30, HasVideo: true, HasAudio: true, AudioCodec: "aac",
		VideoCodec: "h264", VideoProfile: 100, VideoKbps: 2500, KeyframeInterval: 2 * time.Second}
}

func TestPassThroughChoice(t *testing.T) {
	top := DefaultLadder()[0]
	top, _ = top.validate()
	cases := []struct {
		name    string
		mod     func(*Source)
		latency Latency
		want    bool
	}{
		{"obs default fits", func(*Source) {}, Standard, true},
		{"4:3 inside the box fits", func(s *Source) { s.Width = 960 }, Standard, true},
		{"1 s keyframes fit 2 s segments", func(s *Source) { s.KeyframeInterval = time.Second }, Standard, true},
		{"29.97 fps keyframes fit", func(s *Source) { s.FrameRate = 29.97; s.KeyframeInterval = 2002 * time.Millisecond }, Standard, true},
		{"at the rung's peak bitrate fits", func(s *Source) { s.VideoKbps = top.MaxrateKbps }, Standard, true},
		{"baseline fits", func(s *Source) { s.VideoProfile = 66 }, Standard, true},
		{"hevc is re-encoded", func(s *Source) { s.VideoCodec = "hevc" }, Standard, false},
		{"unknown codec is re-encoded", func(s *Source) { s.VideoCodec = "" }, Standard, false},
		{"high 10 is re-encoded", func(s *Source) { s.VideoProfile = 110 }, Standard, false},
		{"unknown profile is re-encoded", func(s *Source) { s.VideoProfile = 0 }, Standard, false},
		{"1080p is re-encoded", func(s *Source) { s.Width, s.Height = 1920, 1080 }, Standard, false},
		{"too wide is re-encoded", func(s *Source) { s.Width = 1440 }, Standard, false},
		{"6 Mbit/s is re-encoded", func(s *Source) { s.VideoKbps = 6000 }, Standard, false},
		{"unknown bitrate is re-encoded", func(s *Source) { s.VideoKbps = 0 }, Standard, false},
		{"unknown keyframe interval is re-encoded", func(s *Source) { s.KeyframeInterval = 0 }, Standard, false},
		{"OBS auto keyframes (8 s) are re-encoded", func(s *Source) { s.KeyframeInterval = 8 * time.Second }, Standard, false},
		{"1.5 s keyframes would cut 3 s segments", func(s *Source) { s.KeyframeInterval = 1500 * time.Millisecond }, Standard, false},
		{"2 s keyframes are too rare for low latency", func(*Source) {}, Low, false},
		{"1 s keyframes fit low latency", func(s *Source) { s.KeyframeInterval = time.Second }, Low, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := obs()
			c.mod(&src)
			seg := time.Duration(c.latency.segmentSeconds()) * time.Second
			if got := passThrough(src, top, seg); got != c.want {
				t.Errorf("passThrough = %v, want %v", got, c.want)
			}
			args := build(t, params(func(p *Params) { p.Source = src; p.Latency = c.latency }))
			copied := slices.Contains(args, "0:v:0") && flagValue(t, args, "-c:v:0") == "copy"
			if copied != c.want {
				t.Errorf("top rung copied = %v, want %v: %q", copied, c.want, args)
			}
		})
	}
}

func TestBuildPassThroughArgs(t *testing.T) {
	args := build(t, params(func(p *Params) { p.Source = obs() }))
	if g := flagValue(t, args, "-filter_complex"); strings.Count(g, "scale=") != 2 || strings.Contains(g, "w=1280") {
		t.Errorf("graph %q: want two scalers, none for the copied 720p", g)
	}
	if got := flagValues(args, "-map"); !slices.Equal(got, []string{"0:v:0", "0:a:0", "[v1o]", "0:a:0", "[v2o]", "0:a:0"}) {
		t.Errorf("maps %q", got)
	}
	for _, i := range []string{"1", "2"} {
		if v := flagValue(t, args, "-force_key_frames:v:"+i); v != "source" {
			t.Errorf("rung %s keyframes %q, want source", i, v)
		}
		if v := flagValue(t, args, "-c:v:"+i); v != "libx264" {
			t.Errorf("rung %s codec %q", i, v)
		}
		if v := flagValue(t, args, "-preset:v:"+i); v != "superfast" {
			t.Errorf("rung %s preset %q, want superfast", i, v)
		}
	}
	// Nothing that would make ffmpeg reject the copied stream.
	for _, f := range []string{"-c:v", "-profile:v", "-pix_fmt", "-preset", "-g", "-force_key_frames", "-b:v:0", "-profile:v:0"} {
		if has(args, f) {
			t.Errorf("%s applies to the copied stream: %q", f, args)
		}
	}
	// VOD never passes through (no probe fills the fields there), and
	// neither does a source the ingest could not measure.
	if args := build(t, params(func(p *Params) { p.Source = obs(); p.Mode = VOD })); has(args, "-c:v:0") {
		t.Errorf("vod copied the source: %q", args)
	}
}

// keyframeTimes returns the presentation times of a rendition's
// keyframes, read from its HLS playlist.
func keyframeTimes(t *testing.T, playlist string) []float64 {
	t.Helper()
	out := ffprobe(t, "-select_streams", "v", "-skip_frame", "nokey", "-show_entries", "frame=pts_time",
		"-of", "csv=p=0", playlist)
	var ts []float64
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		v := strings.Trim(strings.TrimSpace(sc.Text()), ",")
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("keyframe time %q: %v", v, err)
		}
		ts = append(ts, f)
	}
	return ts
}

func segmentDurations(t *testing.T, playlist string) []string {
	t.Helper()
	b, err := os.ReadFile(playlist)
	if err != nil {
		t.Fatal(err)
	}
	var d []string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "#EXTINF:"); ok {
			d = append(d, strings.TrimSuffix(v, ","))
		}
	}
	return d
}

// TestFFmpegPassThroughKeepsSegmentsAligned runs the pass-through ladder on
// an OBS-like source and checks that every rung has its keyframes at the
// source's, so that segments are cut at the same instants.
func TestFFmpegPassThroughKeepsSegmentsAligned(t *testing.T) {
	t.Parallel()
	src := mediatest.Remuxed(t, mediatest.Spec{Width: 1280, Height: 720, Seconds: 8, GOP: 60, Audio: true, Kbps: 2500}, "flv")
	out := t.TempDir()
	args := build(t, Params{Input: src, InputFormat: "flv", Mode: Live, OutDir: out, Source: obs()})
	if flagValue(t, args, "-c:v:0") != "copy" {
		t.Fatalf("not a pass-through: %q", args)
	}
	p := run(t, args, "")
	if err := waitDone(t, p, time.Minute); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, strings.Join(p.StderrTail(), "\n"))
	}
	want := keyframeTimes(t, filepath.Join(out, "720p", "index.m3u8"))
	if len(want) < 4 {
		t.Fatalf("source keyframes %v, want 4 in 8 s", want)
	}
	// The encoded rungs' timestamps are in 1/fps units, the copied one's
	// in the source's milliseconds: the same instant may differ by the
	// rounding, never by a frame.
	const frame = 1.0 / 30
	for _, r := range []string{"480p", "360p"} {
		got := keyframeTimes(t, filepath.Join(out, r, "index.m3u8"))
		if len(got) != len(want) {
			t.Fatalf("%s keyframes %v, 720p (the source) %v", r, got, want)
		}
		for i := 1; i < len(got); i++ { // the first frame of every rung is a keyframe
			if math.Abs(got[i]-want[i]) >= frame/2 {
				t.Errorf("%s keyframe %d at %.3f s, the source's at %.3f s", r, i, got[i], want[i])
			}
		}
		if d, top := segmentDurations(t, filepath.Join(out, r, "index.m3u8")), segmentDurations(t, filepath.Join(out, "720p", "index.m3u8")); len(d) != len(top) {
			t.Errorf("%s has %d segments %v, 720p %d %v", r, len(d), d, len(top), top)
		}
	}
}

// TestFFmpegPassThroughPipes runs the pass-through ladder with the piped
// output live sessions use (fragmented MP4 per rung on fds 3, 4, 5 for
// the LL-HLS packager): the encoded rungs' keyframes are the source's
// frames at the source's times, from a source with B-frames or without.
// Without -fps_mode passthrough ffmpeg's constant-rate timing moved each
// one a frame later (2.100 s for 2.067).
func TestFFmpegPassThroughPipes(t *testing.T) {
	t.Parallel()
	mediatest.RequireFFmpeg(t)
	// OBS's x264 (veryfast) has B-frames; a browser's or a zerolatency
	// encoder's has none.
	for name, spec := range map[string]mediatest.Spec{
		"b-frames":    {Width: 1280, Height: 720, Seconds: 8, GOP: 60, Audio: true, Kbps: 2500},
		"no-b-frames": {Width: 1280, Height: 720, Seconds: 8, GOP: 60, Audio: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			passThroughPipes(t, mediatest.Remuxed(t, spec, "flv"))
		})
	}
}

func passThroughPipes(t *testing.T, src string) {
	dir := t.TempDir()
	args := build(t, Params{Input: src, InputFormat: "flv", Mode: Live, OutDir: dir, Source: obs(), Pipes: true})
	if flagValue(t, args, "-c:v:0") != "copy" {
		t.Fatalf("not a pass-through: %q", args)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var outs []string
	for _, r := range []string{"720p", "480p", "360p"} {
		p := filepath.Join(dir, r+".mp4")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		outs = append(outs, p)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	// As a player reads them (decode time plus composition offset), the
	// encoded rungs' keyframes are presented when the copied source's
	// are: x264's B-frames delay its output by two frames, which without
	// negative composition offsets showed 480p and 360p two frames later
	// than 720p (hls.js shifted its timeline by that at every switch).
	var shown [][]time.Duration
	for _, p := range outs {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := llhls.Keyframes(f)
		f.Close()
		if err != nil || len(ks) < 4 {
			t.Fatalf("%s: keyframes %v, %v", filepath.Base(p), ks, err)
		}
		shown = append(shown, ks)
	}
	for i, ks := range shown[1:] {
		if !slices.Equal(ks, shown[0]) {
			t.Errorf("%s keyframes presented at %v, 720p (the source) at %v", filepath.Base(outs[i+1]), ks, shown[0])
		}
	}
}
