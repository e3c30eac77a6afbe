package rtmpingest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/live/livetest"
	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestRTMPToLadder publishes with ffmpeg over RTMP: the adapter learns
// the source from the FLV metadata and sequence header, and the ladder and
// the recording appear.
func TestRTMPToLadder(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	ctl := &livetest.Control{Dir: t.TempDir(), Record: true}
	core := livetest.Start(t, live.Config{Control: ctl})
	srv, err := rtmp.NewServer(rtmp.Config{Logger: testutil.Logger(t), OnPublish: Adapter{Core: core}.OnPublish})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })

	url := "rtmp://" + ln.Addr().String() + "/live/k"
	pub := mediatest.Publish(t, url, mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 5, Audio: true}})
	testutil.Eventually(t, 20*time.Second, "the source to be known", func() bool { return len(ctl.Sources()) == 1 })
	// The key is live: a second publisher is refused.
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	second := mediatest.Live{Spec: mediatest.Spec{Width: 320, Height: 180, Seconds: 1}}.PublishArgs(url)
	if out, err := exec.CommandContext(sctx, "ffmpeg", second...).CombinedOutput(); err == nil {
		t.Errorf("a second publisher of the live key was accepted:\n%s", out)
	}
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	testutil.Eventually(t, 30*time.Second, "the session to end", func() bool { return len(ctl.Ends()) == 1 })
	src, end := ctl.Sources()[0], ctl.Ends()[0]
	if src.Format != live.FLV || src.Width != 640 || src.Height != 360 || !src.HasAudio || !src.HasVideo || src.VideoCodec != "h264" {
		t.Errorf("source %+v", src)
	}
	if end.Reason != "unpublished" || end.RecordingPath == "" {
		t.Errorf("end %+v, want unpublished with a recording", end)
	}
	variant, err := os.ReadFile(filepath.Join(ctl.HLSDir("s1"), "360p", "index.m3u8"))
	if err != nil || !strings.Contains(string(variant), "#EXT-X-ENDLIST") {
		t.Fatalf("variant playlist: %v\n%s", err, variant)
	}
}

// TestProbeBounds: a publisher that never sends what the probe needs
// makes the adapter decide after a bounded number of messages, and
// without video the session is refused.
func TestProbeBounds(t *testing.T) {
	ctl := &livetest.Control{Dir: t.TempDir()}
	core := livetest.Start(t, live.Config{Control: ctl})
	sk, err := Adapter{Core: core}.OnPublish(context.Background(), rtmp.PublishRequest{App: "live", StreamKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	n := 0
	for ; n < 10*maxProbeMessages && werr == nil; n++ {
		// AAC raw frames with no sequence header, all at timestamp 0, so
		// neither the probe window nor the picture size ever completes.
		werr = sk.WriteMessage(rtmp.Message{Type: rtmp.TypeAudio, Payload: []byte{0xAF, 0x01, 0x21, 0x10}})
	}
	if werr == nil || n != maxProbeMessages {
		t.Fatalf("after %d messages: %v, want a refusal at %d", n, werr, maxProbeMessages)
	}
	sk.Close(werr)
	<-Session(sk).Done()
	if end := ctl.Ends()[0]; end.Reason != "no_media" {
		t.Errorf("end %+v, want no_media", end)
	}

	// The byte bound: a few huge messages.
	sk, err = Adapter{Core: core}.OnPublish(context.Background(), rtmp.PublishRequest{App: "live", StreamKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	big[0] = 0xAF
	for n = 0; n < 100; n++ {
		if err := sk.WriteMessage(rtmp.Message{Type: rtmp.TypeAudio, Payload: big}); err != nil {
			break
		}
	}
	if n*len(big) > maxProbeBytes {
		t.Errorf("buffered %d bytes before deciding, bound %d", n*len(big), maxProbeBytes)
	}
	sk.Close(nil)
	<-Session(sk).Done()
}

// protocolRecorder is a Publisher that records the protocol it is asked
// for and refuses.
type protocolRecorder struct{ got []string }

func (p *protocolRecorder) Publish(ctx context.Context, req live.PublishRequest) (*live.Session, error) {
	p.got = append(p.got, req.Protocol)
	return nil, context.Canceled
}

// TestProtocolNames: publishes over TLS reach the core as rtmps, a pull
// adapter's name wins.
func TestProtocolNames(t *testing.T) {
	p := &protocolRecorder{}
	Adapter{Core: p}.OnPublish(context.Background(), rtmp.PublishRequest{StreamKey: "k"})
	Adapter{Core: p}.OnPublish(context.Background(), rtmp.PublishRequest{StreamKey: "k", TLS: true})
	Adapter{Core: p, Protocol: "srs"}.OnPublish(context.Background(), rtmp.PublishRequest{StreamKey: "k"})
	if strings.Join(p.got, ",") != "rtmp,rtmps,srs" {
		t.Errorf("protocols %v", p.got)
	}
}
