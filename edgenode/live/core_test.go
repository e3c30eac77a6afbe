package live_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/live/livetest"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// mpegTS is a synthetic source as an SRT encoder sends it.
func mpegTS(t *testing.T, spec mediatest.Spec) []byte {
	t.Helper()
	b, err := os.ReadFile(mediatest.Remuxed(t, spec, "mpegts"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCoreMPEGTS drives the live core with an MPEG-TS source and no RTMP
// anywhere: the ladder and the recording appear, the reports arrive, and a
// second publish of the live key is refused.
func TestCoreMPEGTS(t *testing.T) {
	spec := mediatest.Spec{Width: 640, Height: 360, Seconds: 6, Audio: true}
	ts := mpegTS(t, spec)
	ctl := &livetest.Control{Dir: t.TempDir(), Record: true}
	core := livetest.Start(t, live.Config{Control: ctl})

	sess, err := core.Publish(context.Background(), live.PublishRequest{Protocol: "srt", StreamKey: "k1", RemoteAddr: "127.0.0.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.Publish(context.Background(), live.PublishRequest{Protocol: "srt", StreamKey: "k1"}); !errors.Is(err, live.ErrAlreadyLive) {
		t.Fatalf("second publish of a live key: %v, want ErrAlreadyLive", err)
	}
	// Some bytes before the adapter knows the source: buffered, then fed.
	const chunk = 188 * 7 // what one SRT packet carries
	head := min(len(ts), 64*chunk)
	if _, err := sess.Write(ts[:head]); err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(live.Source{Format: live.MPEGTS, Width: 640, Height: 360, FrameRate: 30, HasAudio: true, HasVideo: true,
		VideoCodec: "h264", AudioCodec: "aac"}); err != nil {
		t.Fatal(err)
	}
	for off := head; off < len(ts); off += chunk {
		if _, err := sess.Write(ts[off:min(off+chunk, len(ts))]); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
	}
	sess.Close(nil)
	select {
	case <-sess.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("session did not end")
	}
	ends := ctl.Ends()
	if len(ends) != 1 {
		t.Fatalf("%d end reports, want 1", len(ends))
	}
	end := ends[0]
	if end.Reason != "unpublished" || end.RecordingPath == "" || end.RecordingBytes < transcode.MinRecordingBytes {
		t.Fatalf("end = %+v, want unpublished with a kept recording", end)
	}
	if started := ctl.Sources(); len(started) != 1 || started[0].Format != live.MPEGTS {
		t.Fatalf("start reports: %+v", started)
	}
	hls := ctl.HLSDir(sess.ID())
	master, err := os.ReadFile(filepath.Join(hls, "master.m3u8"))
	if err != nil || !strings.Contains(string(master), "360p/index.m3u8") {
		t.Fatalf("master playlist: %v\n%s", err, master)
	}
	variant, err := os.ReadFile(filepath.Join(hls, "360p", "index.m3u8"))
	if err != nil || !strings.Contains(string(variant), "#EXT-X-ENDLIST") || !strings.Contains(string(variant), "#EXTINF") {
		t.Fatalf("variant playlist: %v\n%s", err, variant)
	}
	probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", end.RecordingPath).Output()
	if err != nil || !strings.Contains(string(probe), "video") || !strings.Contains(string(probe), "audio") {
		t.Fatalf("recording streams: %v %q", err, probe)
	}
	// The key is free again once the session has ended.
	again, err := core.Publish(context.Background(), live.PublishRequest{Protocol: "srt", StreamKey: "k1"})
	if err != nil {
		t.Fatalf("publish after the end: %v", err)
	}
	again.Close(nil)
	<-again.Done()
	if got := ctl.Ends()[1].Reason; got != "no_media" {
		t.Errorf("a publish closed before media ended as %q, want no_media", got)
	}
}

// publishTS publishes a 320x180 video-only MPEG-TS source and writes ts,
// leaving the session open.
func publishTS(t *testing.T, core *live.Core, ts []byte) *live.Session {
	t.Helper()
	sess, err := core.Publish(context.Background(), live.PublishRequest{Protocol: "srt", StreamKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(live.Source{Format: live.MPEGTS, Width: 320, Height: 180, FrameRate: 30, HasVideo: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Write(ts); err != nil {
		t.Fatal(err)
	}
	return sess
}

// TestCoreStall: a source that stops sending without closing ends as
// stalled, and its recording is kept.
func TestCoreStall(t *testing.T) {
	ts := mpegTS(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 4})
	ctl := &livetest.Control{Dir: t.TempDir()}
	core := livetest.Start(t, live.Config{Control: ctl, StallTimeout: 500 * time.Millisecond})
	sess := publishTS(t, core, ts)
	select {
	case <-sess.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled session did not end")
	}
	if end := ctl.Ends()[0]; end.Reason != "stalled" {
		t.Fatalf("end = %+v, want stalled", end)
	}
	if _, err := sess.Write([]byte{0x47}); err == nil {
		t.Error("a write after the stall succeeded")
	}
}

// TestCoreProbeBound: what is buffered before the source is described is
// bounded; past the bound the write fails and the session ends.
func TestCoreProbeBound(t *testing.T) {
	ctl := &livetest.Control{Dir: t.TempDir()}
	core := livetest.Start(t, live.Config{Control: ctl, MaxProbeBytes: 4096})
	sess, err := core.Publish(context.Background(), live.PublishRequest{Protocol: "srt", StreamKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Write(make([]byte, 4000)); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Write(make([]byte, 200)); err == nil {
		t.Fatal("a write past the probe bound succeeded")
	}
	<-sess.Done()
	if end := ctl.Ends()[0]; end.Reason != "no_media" {
		t.Fatalf("end = %+v, want no_media", end)
	}
}

// TestCoreShutdown: ending Run's context cancels running sessions; Run
// returns once their ffmpeg is reaped and the end is reported.
func TestCoreShutdown(t *testing.T) {
	ts := mpegTS(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 4})
	ctl := &livetest.Control{Dir: t.TempDir()}
	core, err := live.NewCore(live.Config{Control: ctl, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); core.Run(ctx) }()
	sess := publishTS(t, core, ts)
	pid := sess.PID()
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if end := ctl.Ends()[0]; end.Reason != "cancelled" {
		t.Fatalf("end = %+v, want cancelled", end)
	}
	if _, err := core.Publish(context.Background(), live.PublishRequest{StreamKey: "k2"}); !errors.Is(err, live.ErrNotRunning) {
		t.Errorf("publish after Run: %v, want ErrNotRunning", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("ffmpeg %d still runs", pid)
	}
}
