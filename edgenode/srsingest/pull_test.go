package srsingest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestPullIntoLadder stands in for SRS with ffmpeg serving a stream over
// RTMP on loopback (-listen 1 plays the file to the first player, as SRS
// plays a published stream): SRS's on_publish body is posted, the edge
// pulls the stream into the live core, and the ladder and the recording
// appear; SRS's on_unpublish ends the session as unpublished.
func TestPullIntoLadder(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	file := mediatest.Remuxed(t, mediatest.Spec{Width: 1280, Height: 720, Seconds: 6, GOP: 30, Audio: true}, "flv")
	addr := testutil.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	srs := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1", "-i", file,
		"-c", "copy", "-f", "flv", "-listen", "1", "rtmp://"+addr+"/live/livestream")
	srs.Stderr = testutil.LogWriter(t, "srs stand-in: ")
	if err := srs.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srs.Wait() })

	s, ctl, _, _ := startServer(t, Config{SRSURL: "rtmp://" + addr})
	if code, a := post(t, s, "/srs/hooks/on_publish"+q, fixture(t, "on_publish.json"), nil); code != 200 || a.Code != 0 {
		t.Fatalf("on_publish: %d %+v", code, a)
	}
	testutil.Eventually(t, 20*time.Second, "the source to be known", func() bool { return len(ctl.Sources()) == 1 })
	testutil.Until(t, 60*time.Second, "two segments in every rung", func() error {
		for _, rung := range []string{"720p", "480p", "360p"} {
			b, _ := os.ReadFile(filepath.Join(ctl.HLSDir("s1"), rung, "index.m3u8"))
			if n := strings.Count(string(b), "#EXTINF"); n < 2 {
				return fmt.Errorf("%s: %d segments", rung, n)
			}
		}
		return nil
	})
	// The publisher stops: SRS calls on_unpublish.
	if code, a := post(t, s, "/srs/hooks/on_unpublish"+q, fixture(t, "on_unpublish.json"), nil); code != 200 || a.Code != 0 {
		t.Errorf("on_unpublish: %d %+v", code, a)
	}
	testutil.Eventually(t, 60*time.Second, "the session to end", func() bool { return len(ctl.Ends()) == 1 })
	src, end := ctl.Sources()[0], ctl.Ends()[0]
	if src.Format != live.FLV || src.Width != 1280 || src.Height != 720 || !src.HasAudio || src.VideoCodec != "h264" {
		t.Errorf("source %+v", src)
	}
	if end.Reason != "unpublished" || end.RecordingPath == "" {
		t.Errorf("end %+v, want unpublished with a recording", end)
	}
	for _, rung := range []string{"720p", "480p", "360p"} {
		b, err := os.ReadFile(filepath.Join(ctl.HLSDir("s1"), rung, "index.m3u8"))
		if err != nil || !strings.Contains(string(b), "#EXT-X-ENDLIST") {
			t.Errorf("%s playlist: %v\n%s", rung, err, b)
		}
	}
}
