package rtmp

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// BenchmarkRTMPServerCPU measures the CPU the RTMP server spends per
// stream: N ffmpeg publishers (RTMP_BENCH_PUBLISHERS, default 20) send the
// same 720p30 file (about 7.5 Mbit/s, RTMP_BENCH_SECONDS long, default
// 20) in real time with -c copy into one server in this process, whose
// sink discards the media. The server's CPU is this process's getrusage
// (user+system) over the run; the publishers are child processes and not
// counted. Ours, gortmplib reading raw messages, and gortmplib's
// codec-aware Reader (what MediaMTX does) run one after the other.
func BenchmarkRTMPServerCPU(b *testing.B) {
	mediatest.RequireFFmpeg(b)
	n := envInt("RTMP_BENCH_PUBLISHERS", 20)
	secs := envInt("RTMP_BENCH_SECONDS", 20)
	file := mediatest.Remuxed(b, mediatest.Spec{Width: 1280, Height: 720, Seconds: secs, GOP: 60, Audio: true}, "flv")
	for _, impl := range []string{"ours", "gortmplib-raw", "gortmplib-reader"} {
		b.Run(impl, func(b *testing.B) {
			for range b.N {
				ln := listenLoopback(b)
				var published func() int
				switch impl {
				case "ours":
					var pubs atomic.Int64
					startOurs(b, ln, func(context.Context, PublishRequest) (Sink, error) {
						pubs.Add(1)
						return discardSink{}, nil
					})
					published = func() int { return int(pubs.Load()) }
				default:
					lib := startLib(b, ln, impl == "gortmplib-reader")
					published = func() int { p, _, _, _, _, _, _ := lib.counts(); return p }
				}
				cpuBefore, wallBefore := selfCPU(), time.Now()
				publishAll(b, n, file, "rtmp://"+ln.Addr().String()+"/live/")
				cpu, wall := selfCPU()-cpuBefore, time.Since(wallBefore)
				if got := published(); got != n {
					b.Fatalf("%d of %d publishes reached the server", got, n)
				}
				perStream := cpu.Seconds() * 1000 / float64(n*secs)
				b.ReportMetric(perStream, "cpu-ms/stream-s")
				b.ReportMetric(cpu.Seconds()/wall.Seconds()*100, "%core")
				fmt.Printf("FIGURE RTMP server CPU, %s: %d publishers x %d s 720p30 (-c copy): %.2f s CPU in %.1f s wall = %.1f%% of a core, %.2f ms CPU per stream-second (%.2f%% of a core per stream)\n",
					impl, n, secs, cpu.Seconds(), wall.Seconds(), cpu.Seconds()/wall.Seconds()*100, perStream, perStream/10)
			}
		})
	}
}

// publishAll runs n real-time ffmpeg publishers of file to base+"kN" at
// once and waits for them.
func publishAll(tb testing.TB, n int, file, base string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", file,
			"-c", "copy", "-f", "flv", base+"k"+strconv.Itoa(i))
		cmd.Stderr = testutil.LogWriter(tb, fmt.Sprintf("publisher %d: ", i))
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		wg.Go(func() {
			if err := cmd.Wait(); err != nil {
				errs <- fmt.Errorf("publisher %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Error(err)
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
