package transcode

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
)

// densitySeconds is the length of the benchmark's source.
const densitySeconds = 20

// runFFmpeg runs ffmpeg with args and returns its CPU time (user+system)
// and wall time.
func runFFmpeg(ctx context.Context, args []string) (cpu, wall time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall = time.Since(start)
	if err != nil {
		return 0, wall, fmt.Errorf("ffmpeg: %w\n%s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), wall, nil
}

var ssimAll = regexp.MustCompile(`SSIM .* All:([0-9.]+)`)

// ssim compares a rendition with the source scaled to its size (the
// ladder's own scaler), frame by frame.
func ssim(b *testing.B, rendition, source string, w, h int) float64 {
	b.Helper()
	// The ssim filter pairs frames by timestamp: the renditions keep the
	// source's (resetting both to start at zero would pair the copied
	// rung, whose first frame is later, one frame off).
	graph := fmt.Sprintf("[1:v]scale=w=%d:h=%d,setsar=1[ref];[0:v][ref]ssim", w, h)
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-i", rendition, "-i", source,
		"-lavfi", graph, "-f", "null", "-").CombinedOutput()
	if err != nil {
		b.Fatalf("ssim %s: %v\n%s", rendition, err, out)
	}
	m := ssimAll.FindSubmatch(out)
	if m == nil {
		b.Fatalf("ssim %s: no result in\n%s", rendition, out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// realtime inserts -re before the input: ffmpeg reads it at its own pace,
// as a publish arrives.
func realtime(args []string) []string {
	i := slices.Index(args, "-i")
	return slices.Concat(args[:i], []string{"-re"}, args[i:])
}

// sustained runs n ladders of a realtime 720p30 publish at once and
// reports whether every one kept up: finished within a second of the
// source's duration (ffmpeg's start included).
func sustained(b *testing.B, n int, build func(out string) []string) (bool, time.Duration) {
	b.Helper()
	var wg sync.WaitGroup
	walls := make([]time.Duration, n)
	errs := make([]error, n)
	for i := range n {
		args := realtime(build(filepath.Join(b.TempDir(), "hls")))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, walls[i], errs[i] = runFFmpeg(b.Context(), args)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	worst := slices.Max(walls)
	return worst <= (densitySeconds+1)*time.Second, worst
}

// BenchmarkLiveLadderDensity measures what the pass-through of the top
// rung saves on a source like OBS's default (720p30 H.264 High, 2500
// kbit/s CBR, a keyframe every 2 s, AAC): the live ladder's CPU seconds
// per stream second, the SSIM of each rung against the source scaled to
// its size, and how many such publishes this machine carries at once in
// real time, "before" (today's arguments: every rung re-encoded, what
// Build makes when the ingest could not measure the source) and "after"
// (the source copied as 720p, the lower rungs keyed on its keyframes).
func BenchmarkLiveLadderDensity(b *testing.B) {
	mediatest.RequireFFmpeg(b)
	src := mediatest.Remuxed(b, mediatest.Spec{Width: 1280, Height: 720, Seconds: densitySeconds, GOP: 60, Audio: true, Kbps: 2500}, "flv")
	measured := Source{Width: 1280, Height: 720, FrameRate: 30, HasVideo: true, HasAudio: true, AudioCodec: "aac",
		VideoCodec: "h264", VideoProfile: 100, VideoKbps: 2500, KeyframeInterval: 2 * time.Second}
	unmeasured := Source{Width: 1280, Height: 720, FrameRate: 30, HasVideo: true, HasAudio: true, AudioCodec: "aac"}
	sizes := map[string][2]int{"720p": {1280, 720}, "480p": {854, 480}, "360p": {640, 360}}

	type result struct {
		cpu       float64 // CPU-s per stream-second
		ssim      map[string]float64
		streams   int // concurrent realtime publishes sustained
		worstWall time.Duration
	}
	measure := func(name string, s Source) result {
		build := func(out string) []string {
			args, err := Build(Params{Input: src, InputFormat: "flv", Source: s, Mode: Live, OutDir: out})
			if err != nil {
				b.Fatal(err)
			}
			return args
		}
		out := filepath.Join(b.TempDir(), "hls")
		cpu, _, err := runFFmpeg(b.Context(), build(out))
		if err != nil {
			b.Fatal(err)
		}
		r := result{cpu: cpu.Seconds() / densitySeconds, ssim: map[string]float64{}}
		for rung, wh := range sizes {
			r.ssim[rung] = ssim(b, filepath.Join(out, rung, "index.m3u8"), src, wh[0], wh[1])
		}
		for n := 1; n <= 8; n++ {
			ok, wall := sustained(b, n, build)
			fmt.Printf("FIGURE density %s: %d concurrent realtime 720p30 publishes: slowest finished in %.1f s for %d s of media (%s)\n",
				name, n, wall.Seconds(), densitySeconds, map[bool]string{true: "sustained", false: "fell behind"}[ok])
			if !ok {
				break
			}
			r.streams, r.worstWall = n, wall
		}
		return r
	}
	for i := 0; i < b.N; i++ {
		before := measure("before", unmeasured)
		after := measure("after", measured)
		fmt.Printf("FIGURE live ladder CPU per stream-second (720p30 2500k source, %d s, 3 rungs): before %.2f | after %.2f | ratio %.2f\n",
			densitySeconds, before.cpu, after.cpu, after.cpu/before.cpu)
		for _, rung := range []string{"720p", "480p", "360p"} {
			fmt.Printf("FIGURE SSIM %s vs the source scaled: before %.4f | after %.4f | change %+.4f\n",
				rung, before.ssim[rung], after.ssim[rung], after.ssim[rung]-before.ssim[rung])
		}
		fmt.Printf("FIGURE concurrent realtime 720p30 publishes on this machine: before %d | after %d\n", before.streams, after.streams)
		b.ReportMetric(before.cpu, "before-cpu-s/s")
		b.ReportMetric(after.cpu, "after-cpu-s/s")
		b.ReportMetric(after.cpu/before.cpu, "cpu-ratio")
		b.ReportMetric(float64(before.streams), "before-streams")
		b.ReportMetric(float64(after.streams), "after-streams")
		for _, rung := range []string{"480p", "360p"} {
			b.ReportMetric(after.ssim[rung]-before.ssim[rung], rung+"-ssim-change")
		}
	}
}
