package edge_test

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// ingestEdge is an edge with SRT and WHIP on loopback, against a fake
// control plane that knows one stream key; logs is what the edge logged.
type ingestEdge struct {
	*edge.Node
	cp   *fakeControl
	key  string
	dir  string
	logs *testutil.SyncBuffer
}

func startIngestEdge(t testing.TB, key string, mods ...func(*edge.Config)) *ingestEdge {
	t.Helper()
	mediatest.RequireFFmpeg(t)
	e := &ingestEdge{cp: startFakeControl(t, key, protocol.PlaybackPublic), key: key, dir: t.TempDir(), logs: &testutil.SyncBuffer{}}
	cfg := edge.Config{NodeID: "edge-1", DataDir: e.dir, Control: []string{e.cp.addr()}, JoinToken: e.cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", SRTAddr: "127.0.0.1:0", WebRTCLoopback: true,
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(e.logs, testutil.LogWriter(t, "")), nil))}
	for _, mod := range mods {
		mod(&cfg)
	}
	var err error
	e.Node, err = edge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runEdge(t, e.Node)
	// Run joins the cluster before it starts the ingest servers: wait for
	// the edge to report, so a publish does not race its start.
	testutil.Eventually(t, 10*time.Second, "the edge to heartbeat", func() bool { return e.cp.count(protocol.TypeHeartbeat) > 0 })
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), key) {
			t.Error("the stream key reached the log")
		}
	})
	return e
}

// srtURL is the SRT publish URL of key, in the access-control syntax.
func (e *ingestEdge) srtURL(key string) string {
	return e.SRTURL() + "?streamid=#!::r=live/" + key + ",m=publish"
}

// waitEnded waits for the session's end report.
func (e *ingestEdge) waitEnded(t testing.TB, session string, within time.Duration) protocol.SessionEnded {
	t.Helper()
	return e.cp.waitEnded(t, session, within)
}

// checkLadder checks the finished ladder of the stream (playback id pb1):
// a master playlist with the rungs, each rung's playlist finished, and the
// audio of each rung AAC (whatever the source sent) when audio is set.
func (e *ingestEdge) checkLadder(t testing.TB, rungs []string, audio bool) {
	t.Helper()
	hls := filepath.Join(e.dir, "hls", "pb1")
	master, err := os.ReadFile(filepath.Join(hls, "master.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(master), "#EXT-X-STREAM-INF"); got != len(rungs) {
		t.Errorf("master playlist with %d variants, want %d:\n%s", got, len(rungs), master)
	}
	for _, rung := range rungs {
		b, err := os.ReadFile(filepath.Join(hls, rung, "index.m3u8"))
		if err != nil || !strings.Contains(string(b), "#EXT-X-ENDLIST") {
			t.Errorf("%s playlist: %v\n%s", rung, err, b)
			continue
		}
		if audio {
			if got := probe(t, "-select_streams", "a", "-show_entries", "stream=codec_name", filepath.Join(hls, rung, "index.m3u8")); !allEqual(got, "aac") {
				t.Errorf("%s audio %q, want aac", rung, got)
			}
		}
	}
}

// checkRecording checks the session's recording holds the streams want
// (codec names in order, e.g. "h264", "aac").
func (e *ingestEdge) checkRecording(t testing.TB, end protocol.SessionEnded, want ...string) {
	t.Helper()
	if end.RecordingPath == "" || end.RecordingBytes == 0 {
		t.Fatalf("session end %+v without a recording", end)
	}
	if got := probe(t, "-show_entries", "stream=codec_name", end.RecordingPath); strings.Join(strings.Fields(got), ",") != strings.Join(want, ",") {
		t.Errorf("recording streams %q, want %q", got, want)
	}
}

func probe(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "ffprobe", append(append([]string{"-v", "error"}, args[:len(args)-1]...),
		"-of", "csv=p=0", args[len(args)-1])...).Output()
	if err != nil {
		t.Fatalf("ffprobe %q: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func allEqual(s, want string) bool {
	f := strings.Fields(s)
	for _, v := range f {
		if v != want {
			return false
		}
	}
	return len(f) > 0
}

// TestSRTPublish publishes 720p with AAC over SRT from ffmpeg: the source
// is probed from the MPEG-TS, the 3-rung ladder and the recording appear,
// and the disconnect is a clean unpublish.
func TestSRTPublish(t *testing.T) {
	e := startIngestEdge(t, "sk_test_srt")
	if !strings.HasPrefix(e.SRTURL(), "srt://127.0.0.1:") {
		t.Fatalf("SRT URL %q", e.SRTURL())
	}
	pub := mediatest.Publish(t, e.srtURL(e.key), mediatest.Live{Format: "mpegts",
		Spec: mediatest.Spec{Width: 1280, Height: 720, Seconds: 8, GOP: 30, Audio: true}})
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	end := e.waitEnded(t, "ses_1", 60*time.Second)
	if end.Reason != "unpublished" {
		t.Errorf("session end %+v, want unpublished", end)
	}
	e.checkLadder(t, []string{"720p", "480p", "360p"}, true)
	e.checkRecording(t, end, "h264", "aac")
}

// TestSRTWrongKey: a caller with an unknown key is refused in the
// handshake with reason 1401; no connection, no session, no media read.
func TestSRTWrongKey(t *testing.T) {
	e := startIngestEdge(t, "sk_test_srt_good")
	const bad = "sk_test_srt_wrong"
	ctx := testutil.Context(t, 30*time.Second)
	start := time.Now()
	out, err := exec.CommandContext(ctx, "ffmpeg", mediatest.Live{Format: "mpegts",
		Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 5}}.PublishArgs(e.srtURL(bad))...).CombinedOutput()
	if err == nil {
		t.Fatalf("ffmpeg published with a wrong key:\n%s", out)
	}
	t.Logf("ffmpeg refused after %v: %s", time.Since(start).Round(time.Millisecond), testutil.LastLines(string(out), 3))
	if !strings.Contains(e.logs.String(), "code=1401") {
		t.Errorf("no 1401 refusal logged:\n%s", testutil.LastLines(e.logs.String(), 20))
	}
	if strings.Contains(e.logs.String(), "srt publisher connected") {
		t.Error("a refused caller got a connection")
	}
	if n := e.cp.count(protocol.TypeSessionStarted) + e.cp.count(protocol.TypeSessionEnded); n != 0 {
		t.Errorf("%d session reports for a refused caller", n)
	}
	if e.ActiveSessions() != 0 {
		t.Errorf("%d sessions after a refusal", e.ActiveSessions())
	}
	if strings.Contains(e.logs.String(), bad) {
		t.Error("the wrong key reached the log")
	}
}

// TestSRTStalledSender stops the publisher's process (SIGSTOP) mid-stream:
// its connection stays up and silent, and the session ends as stalled
// within about the 8 s stall timeout, with its recording.
func TestSRTStalledSender(t *testing.T) {
	e := startIngestEdge(t, "sk_test_srt_stall")
	pub := mediatest.Publish(t, e.srtURL(e.key), mediatest.Live{Format: "mpegts",
		Spec: mediatest.Spec{Width: 640, Height: 360, GOP: 30, Audio: true}})
	t.Cleanup(func() { pub.Process.Signal(syscall.SIGCONT) })
	testutil.Until(t, 30*time.Second, "segments to be listed", func() error {
		b, err := os.ReadFile(filepath.Join(e.dir, "hls", "pb1", "360p", "index.m3u8"))
		if err != nil || strings.Count(string(b), "#EXTINF") < 2 {
			return os.ErrNotExist
		}
		return nil
	})
	if err := pub.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	end := e.waitEnded(t, "ses_1", 20*time.Second)
	took := time.Since(stopped)
	t.Logf("FIGURE SRT stalled sender: session ended %v after the publisher stopped (reason %s)", took.Round(time.Millisecond), end.Reason)
	if end.Reason != "stalled" {
		t.Errorf("session end %+v, want stalled", end)
	}
	if end.RecordingBytes == 0 {
		t.Errorf("stalled session without its recording: %+v", end)
	}
}
