package mediajobs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
)

// before reports whether a comes before b in args.
func before(args []string, a, b string) bool {
	i, j := slices.Index(args, a), slices.Index(args, b)
	return i >= 0 && j >= 0 && i < j
}

// pairs reports whether args has flag followed by value.
func pairs(args []string, flag, value string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag && args[i+1] == value {
			return true
		}
	}
	return false
}

func TestClipArgs(t *testing.T) {
	copyArgs := clipArgs("file:/src.mp4", 2, 5, false, "/out/clip.mp4")
	for _, p := range [][2]string{{"-ss", "2.000"}, {"-t", "5.000"}, {"-c", "copy"}, {"-avoid_negative_ts", "make_zero"}, {"-movflags", "+faststart"}, {"-f", "mp4"}, {"-map", "0:a:0?"}} {
		if !pairs(copyArgs, p[0], p[1]) {
			t.Errorf("copy args lack %s %s: %q", p[0], p[1], copyArgs)
		}
	}
	// -ss before -i seeks the input (to a keyframe when copying); -t after
	// it limits the output.
	if !before(copyArgs, "-ss", "-i") || !before(copyArgs, "-i", "-t") || copyArgs[len(copyArgs)-1] != "/out/clip.mp4" {
		t.Errorf("copy args order: %q", copyArgs)
	}
	if slices.Contains(copyArgs, "-rw_timeout") {
		t.Errorf("a file input got http options: %q", copyArgs)
	}

	enc := clipArgs("https://store/k?sig=x", 2.5, 4.25, true, "/out/clip.mp4")
	for _, p := range [][2]string{{"-c:v", "libx264"}, {"-c:a", "aac"}, {"-ss", "2.500"}, {"-t", "4.250"}, {"-rw_timeout", rwTimeout}} {
		if !pairs(enc, p[0], p[1]) {
			t.Errorf("reencode args lack %s %s: %q", p[0], p[1], enc)
		}
	}
	if slices.Contains(enc, "copy") || !before(enc, "-rw_timeout", "-i") {
		t.Errorf("reencode args: %q", enc)
	}
}

func TestWithInputOptions(t *testing.T) {
	args, err := transcode.Build(transcode.Params{
		Mode: transcode.VOD, Input: "https://h/k?sig=x", OutDir: "/w/hls", Progress: true,
		Source: transcode.Source{Width: 640, Height: 360, FrameRate: 30, HasVideo: true, HasAudio: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := withInputOptions(args, "https://h/k?sig=x", httpInputOptions)
	if err != nil {
		t.Fatal(err)
	}
	at := slices.Index(got, "-i")
	if at < len(httpInputOptions) || !slices.Equal(got[at-len(httpInputOptions):at], httpInputOptions) {
		t.Errorf("options not right before -i: %q", got)
	}
	if len(got) != len(args)+len(httpInputOptions) {
		t.Errorf("%d args, want %d", len(got), len(args)+len(httpInputOptions))
	}
	// The playlists Build makes for VOD are what readLadder checks for.
	if !pairs(args, "-hls_playlist_type", "vod") {
		t.Errorf("Build for VOD does not ask for VOD playlists: %q", args)
	}
	if _, err := withInputOptions(args, "https://other", httpInputOptions); err == nil {
		t.Error("missing input: no error")
	}
	twice := append(slices.Clone(args), "-i", "https://h/k?sig=x")
	if _, err := withInputOptions(twice, "https://h/k?sig=x", httpInputOptions); err == nil {
		t.Error("input twice: no error")
	}
}

func TestStoryboardOutputArgs(t *testing.T) {
	args := planStoryboard(10, 0).outputArgs("/w/tiles")
	want := []string{"-map", "0:v:0",
		"-vf", "fps=fps=1000/1000:eof_action=pass,scale=w=160:h=320:force_original_aspect_ratio=decrease:force_divisible_by=2",
		"-c:v", "png", "-f", "image2", "/w/tiles/tile_%05d.png"}
	if !slices.Equal(args, want) {
		t.Errorf("got %q\nwant %q", args, want)
	}
}

func TestProgress(t *testing.T) {
	var got []protocol.JobProgress
	p := newProgress(func(jp protocol.JobProgress) { got = append(got, jp) })
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	step := func(d time.Duration) { now = now.Add(d) }

	whole := p.whole()
	probe, transcodePh, upload := whole.sub(0, 1), whole.sub(1, 91), whole.sub(91, 100)
	probe.set(1) // 1 %
	step(100 * time.Millisecond)
	transcodePh.ffmpeg(10)(transcode.Progress{OutTimeMS: 5000, FPS: 120, Speed: 4}) // too soon
	step(500 * time.Millisecond)
	transcodePh.ffmpeg(10)(transcode.Progress{OutTimeMS: 5000, FPS: 120, Speed: 4}) // 46 %
	step(time.Second)
	transcodePh.ffmpeg(10)(transcode.Progress{OutTimeMS: 4000}) // behind: stays 46 %
	step(time.Second)
	upload.sub(50, 100).set(0.5) // 91 + 9*(0.5+0.25) = 97.75
	step(time.Millisecond)
	p.finish()

	want := []protocol.JobProgress{
		{Percent: 1},
		{Percent: 46, FPS: 120, Speed: 4},
		{Percent: 46},
		{Percent: 97.8},
		{Percent: 100},
	}
	if !slices.Equal(got, want) {
		t.Errorf("reports %+v\nwant %+v", got, want)
	}
	var nilProgress *progress
	nilProgress.finish() // no callback: nothing happens
	newProgress(nil).finish()
}

func TestNewRunnerConfig(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	store, err := objstore.NewLocal(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{WorkDir: dir}, "no object store"},
		{"no ffmpeg", Config{Store: store, WorkDir: dir, FFmpeg: "/nonexistent/ffmpeg"}, "ffmpeg"},
		{"percent in work dir", Config{Store: store, WorkDir: filepath.Join(dir, "100%")}, "must not contain %"},
		{"ttl too long", Config{Store: store, WorkDir: dir, PresignTTL: 8 * 24 * time.Hour}, "presign ttl"},
	} {
		if _, err := NewRunner(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}

	// Without a work dir the Runner makes its own, and Close removes it.
	own, err := NewRunner(Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(own.workDir); err != nil || !fi.IsDir() {
		t.Fatalf("default work dir %s: %v", own.workDir, err)
	}
	if err := own.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(own.workDir); !os.IsNotExist(err) {
		t.Errorf("default work dir after Close: %v", err)
	}

	// Leftovers of a crash go; other files stay.
	for _, d := range []string{"job-x-1/hls", "thumb-2"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRunner(Config{Store: store, WorkDir: dir}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "keep" {
		t.Errorf("work dir after NewRunner: %v", entries)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"job_5kq-A": "job_5kq-A", "../../etc": "etc", "a b/c%d": "abcd", strings.Repeat("x", 50): strings.Repeat("x", 40),
	} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}
