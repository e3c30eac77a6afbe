// Package mediatest is the one media-fixture package of the tests: it makes
// synthetic sources with Debian's ffmpeg (lavfi test pattern and tone),
// caches each file once per machine so the whole suite pays for it once,
// and starts real ffmpeg publishers against our ingest endpoints.
//
// It does not check media (ffprobe assertions stay with the tests that
// make them) and imports nothing of the project.
package mediatest

import (
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

// RequireFFmpeg fails the test when ffmpeg or ffprobe is missing: the media
// tests are real, and `make test` installs both.
func RequireFFmpeg(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is required (make deps installs it): %v", bin, err)
		}
	}
}

// Spec describes a synthetic source file: testsrc2 video at Width x Height
// and FPS (default 30) with a keyframe every GOP frames (default 2 s), and
// a 440 Hz tone when Audio.
type Spec struct {
	Width, Height int
	Seconds       int
	FPS           int
	GOP           int
	NoVideo       bool
	Audio         bool
	// Fragmented writes fragmented MP4, as the live recorder does.
	Fragmented bool
	// Rotate marks the video as displayed turned by that many degrees, as
	// phones do.
	Rotate int
	// Frequency is the tone's pitch (default 440 Hz).
	Frequency int
	// AudioFile, with Audio, is a file whose audio is used instead of the
	// tone (recorded speech, say), cut to Seconds.
	AudioFile string
	// Kbps, when set, encodes the video as OBS does by default: x264
	// veryfast at a constant bitrate (maxrate = Kbps, a 2 s buffer, no
	// scene-cut keyframes), instead of ultrafast at a constant quality.
	Kbps int
}

func (s Spec) withDefaults() Spec {
	if s.FPS == 0 {
		s.FPS = 30
	}
	if s.GOP == 0 {
		s.GOP = 2 * s.FPS
	}
	if s.Frequency == 0 {
		s.Frequency = 440
	}
	if s.Seconds == 0 {
		s.Seconds = 4
	}
	return s
}

func (s Spec) name() string {
	af := ""
	if s.AudioFile != "" {
		af = fmt.Sprintf("_af%08x", crc32.ChecksumIEEE([]byte(s.AudioFile)))
	}
	if s.Kbps != 0 {
		af += fmt.Sprintf("_k%d", s.Kbps)
	}
	return fmt.Sprintf("src_%dx%d_%dfps_g%d_%ds_v%v_a%v_f%d_frag%v_rot%d%s.mp4", s.Width, s.Height, s.FPS, s.GOP,
		s.Seconds, !s.NoVideo, s.Audio, s.Frequency, s.Fragmented, s.Rotate, af)
}

// InputArgs are ffmpeg's input arguments for the spec's lavfi sources
// (without -re): video first, then audio.
func (s Spec) InputArgs() []string {
	s = s.withDefaults()
	var args []string
	if !s.NoVideo {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", s.Width, s.Height, s.FPS))
	}
	if s.Audio && s.AudioFile != "" {
		args = append(args, "-i", s.AudioFile)
	} else if s.Audio {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=48000", s.Frequency))
	}
	return args
}

// EncodeArgs are ffmpeg's H.264/AAC encoder arguments for the spec.
func (s Spec) EncodeArgs() []string {
	s = s.withDefaults()
	var args []string
	switch {
	case s.NoVideo:
	case s.Kbps != 0:
		k := strconv.Itoa(s.Kbps) + "k"
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-b:v", k, "-maxrate", k,
			"-bufsize", strconv.Itoa(2*s.Kbps)+"k", "-g", strconv.Itoa(s.GOP), "-keyint_min", strconv.Itoa(s.GOP),
			"-sc_threshold", "0", "-pix_fmt", "yuv420p")
	default:
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
			"-g", strconv.Itoa(s.GOP), "-pix_fmt", "yuv420p")
	}
	if s.Audio {
		args = append(args, "-c:a", "aac", "-b:a", "96k")
	}
	return args
}

var cache struct {
	mu    sync.Mutex
	files map[string]string
}

// Dir is where generated files are kept between runs and packages.
func Dir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("livestreams-mediatest-%d", os.Getuid()))
}

// File returns the path of an MP4 made from the spec, generating it the
// first time any test on this machine asks for it. Files are written under
// a temporary name and renamed, so concurrent test binaries never see a
// half-written one.
func File(t testing.TB, spec Spec) string {
	t.Helper()
	RequireFFmpeg(t)
	spec = spec.withDefaults()
	name := spec.name()
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if p, ok := cache.files[name]; ok {
		return p
	}
	dir := Dir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		if err := generate(t, spec, path); err != nil {
			t.Fatal(err)
		}
	}
	if cache.files == nil {
		cache.files = map[string]string{}
	}
	cache.files[name] = path
	return path
}

func generate(t testing.TB, s Spec, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmp := fmt.Sprintf("%s.%d.tmp.mp4", path, os.Getpid())
	defer os.Remove(tmp)
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, s.InputArgs()...)
	args = append(args, "-t", strconv.Itoa(s.Seconds))
	args = append(args, s.EncodeArgs()...)
	if s.Fragmented {
		args = append(args, "-movflags", "+frag_keyframe+empty_moov+default_base_moof")
	}
	args = append(args, "-f", "mp4", tmp)
	if out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("generate %s: %v\n%s", s.name(), err, out)
	}
	if s.Rotate != 0 {
		// The MP4 muxer turns the tag into a display matrix only when
		// remuxing; an encoder drops it.
		rot := tmp + ".rot.mp4"
		defer os.Remove(rot)
		remux := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", tmp,
			"-c", "copy", "-metadata:s:v:0", "rotate=" + strconv.Itoa(s.Rotate), "-f", "mp4", rot}
		if out, err := exec.CommandContext(ctx, "ffmpeg", remux...).CombinedOutput(); err != nil {
			return fmt.Errorf("rotate %s: %v\n%s", s.name(), err, out)
		}
		tmp = rot
	}
	return os.Rename(tmp, path)
}

// Remuxed returns the spec's file copied without re-encoding into another
// container, as ffmpeg names it: "flv" (what an RTMP publisher sends) or
// "mpegts" (SRT, an SRS pull). Like File it is made once per machine.
func Remuxed(t testing.TB, spec Spec, format string) string {
	t.Helper()
	src := File(t, spec)
	path := strings.TrimSuffix(src, ".mp4") + "." + format
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return path
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	defer os.Remove(tmp)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", src, "-c", "copy", "-f", format, tmp}
	if out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("remux %s to %s: %v\n%s", filepath.Base(src), format, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// Live describes a real-time publish: Spec's sources paced with -re, for
// Spec.Seconds (0 = until stopped), muxed as Format (flv for RTMP, the
// default; mpegts for SRT).
type Live struct {
	Spec
	Format string
	// Unpaced drops -re: the publisher sends as fast as the receiver
	// takes it (a long session in less than its duration, for benchmarks).
	Unpaced bool
}

// PublishArgs is the whole ffmpeg argument vector that publishes l to url.
func (l Live) PublishArgs(url string) []string {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	if !l.Unpaced {
		args = append(args, "-re")
	}
	args = append(args, l.Spec.InputArgs()...)
	if l.Seconds > 0 {
		args = append(args, "-t", strconv.Itoa(l.Seconds))
	}
	args = append(args, l.Spec.EncodeArgs()...)
	format := l.Format
	if format == "" {
		format = "flv"
	}
	return append(args, "-f", format, url)
}

// Publish starts an ffmpeg publisher of l to url. Its stderr goes to the
// test log; the process is killed and reaped when the test ends if it is
// still running. Wait on the returned command to see it finish.
func Publish(t testing.TB, url string, l Live) *exec.Cmd {
	t.Helper()
	RequireFFmpeg(t)
	if l.Width == 0 && !l.NoVideo {
		l.Width, l.Height = 640, 360
	}
	l.Spec.Seconds = l.Seconds
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", l.PublishArgs(url)...)
	cmd.Stderr = testutil.LogWriter(t, "publisher: ")
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start publisher: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if cmd.ProcessState == nil {
			cmd.Wait()
		}
	})
	return cmd
}
