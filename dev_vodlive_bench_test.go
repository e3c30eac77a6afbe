package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// BenchmarkVODFromLive measures what turning a finished live session into
// a ready VOD asset costs, after (the live ladder kept: thumbnail and
// storyboard only) and before (the recording transcoded again, as every
// session whose ladder is incomplete still is; forced here by deleting
// one live segment mid-session), for the same session: a 1280x720 publish
// with audio (three rungs) sent faster than real time, of
// LIVESTREAMS_BENCH_VOD_SECONDS seconds (default 120; 600 is the issue's
// ten minutes). It reports, per case, the seconds from the publisher's end
// (and from the session's end: unpaced, the live ladder is still catching
// up when the publisher ends) to the asset ready, and the CPU-seconds from the session's end to the
// asset ready: ffmpeg's (the children this process reaped) and this
// process's own (uploads, hashing, the control plane).
func BenchmarkVODFromLive(b *testing.B) {
	secs := 120
	if v, err := strconv.Atoi(os.Getenv("LIVESTREAMS_BENCH_VOD_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	for range b.N {
		c := startDev(b)
		after := vodCost(b, c, "after", secs, false)
		before := vodCost(b, c, "before", secs, true)
		b.ReportMetric(after.ready, "s-ready-from-live")
		b.ReportMetric(before.ready, "s-ready-transcode")
		b.ReportMetric(after.afterEnd, "s-ready-after-end-from-live")
		b.ReportMetric(before.afterEnd, "s-ready-after-end-transcode")
		b.ReportMetric(after.ffmpeg, "cpu-s-ffmpeg-from-live")
		b.ReportMetric(before.ffmpeg, "cpu-s-ffmpeg-transcode")
		b.ReportMetric(after.self, "cpu-s-process-from-live")
		b.ReportMetric(before.self, "cpu-s-process-transcode")
		b.Logf("VOD of a %d s session: from live ready %.1f s after unpublish (%.1f s after the session ended), %.1f CPU-s ffmpeg + %.1f CPU-s process; "+
			"transcode (anchor: before) %.1f s (%.1f s), %.1f + %.1f CPU-s", secs, after.ready, after.afterEnd, after.ffmpeg, after.self,
			before.ready, before.afterEnd, before.ffmpeg, before.self)
	}
}

type vodStep struct {
	// ready is from the publisher's end; afterEnd from the session's end
	// (an unpaced publisher ends before the live ladder has caught up).
	ready, afterEnd, ffmpeg, self float64
}

// vodCost runs one session and measures its VOD step.
func vodCost(b *testing.B, c *devCluster, name string, secs int, breakLadder bool) vodStep {
	b.Helper()
	s := newStream(b, c, client.StreamCreate{Name: "bench-" + name})
	pub := mediatest.Publish(b, c.RTMPURL(s.Key), mediatest.Live{Unpaced: true,
		Spec: mediatest.Spec{Width: 1280, Height: 720, Seconds: secs, GOP: 60, Audio: true}})
	if breakLadder {
		var segs []string
		testutil.EventuallyEvery(b, time.Minute, devPoll, "live segments", func() bool {
			segs, _ = filepath.Glob(filepath.Join(c.dataDir, "edge", "hls", s.PlaybackID, "360p", "seg_*.m4s"))
			return len(segs) >= 3
		})
		if err := os.Remove(segs[1]); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Wait(); err != nil {
		b.Fatalf("publisher: %v", err)
	}
	unpublished := time.Now()
	testutil.EventuallyEvery(b, time.Duration(secs)*time.Second+time.Minute, 100*time.Millisecond, "session ended", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		list, err := c.API.Streams().Sessions(ctx, s.ID)
		return err == nil && len(list) == 1 && list[0].EndReason != ""
	})
	sessionEnded := time.Now()
	children0, self0 := cpu(syscall.RUSAGE_CHILDREN), cpu(syscall.RUSAGE_SELF)
	a := recordingOf(b, c, s.ID, time.Duration(secs)*10*time.Second+5*time.Minute, func(a recordingAsset) bool { return a.Status == "ready" })
	st := vodStep{ready: time.Since(unpublished).Seconds(), afterEnd: time.Since(sessionEnded).Seconds(), ffmpeg: cpu(syscall.RUSAGE_CHILDREN) - children0, self: cpu(syscall.RUSAGE_SELF) - self0}
	res := recordingResult(b, c, a.ID)
	if res.FromLive == breakLadder {
		b.Fatalf("%s: from_live %v", name, res.FromLive)
	}
	return st
}

// cpu is the user+system CPU seconds of who.
func cpu(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
