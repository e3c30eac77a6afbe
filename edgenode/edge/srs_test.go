package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// srsHook posts an SRS 7 hook body for stream to the edge and returns the
// status and SRS's code.
func srsHook(t *testing.T, n *edge.Node, action, stream, secret string) (int, int) {
	t.Helper()
	body := `{"server_id":"vid-0xk989d","service_id":"plw1l5g7","action":"` + action + `","client_id":"341w361a","ip":"203.0.113.5",` +
		`"vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://127.0.0.1:1935/live","stream":"` + stream + `","param":"",` +
		`"stream_url":"/live/` + stream + `","stream_id":"vid-124q9y3"}`
	resp, err := http.Post(n.HTTPURL()+"/srs/hooks/"+action+"?secret="+secret, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a struct{ Code int }
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return resp.StatusCode, a.Code
}

// TestSRSMode runs an edge with --ingest srs against the fake control
// plane, with ffmpeg standing in for SRS (an RTMP server on loopback that
// plays the stream, as SRS plays what it was published): SRS's on_publish
// is authorized by the control plane, the edge pulls the stream, and the
// ladder and the recording appear. A wrong key and a wrong secret are
// refused; the built-in RTMP listener is off.
func TestSRSMode(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	const key, secret = "sk_test_srs_mode", "srs-secret-0123456789"
	cp := startFakeControl(t, key, protocol.PlaybackPublic)
	file := mediatest.Remuxed(t, mediatest.Spec{Width: 1280, Height: 720, Seconds: 6, GOP: 30, Audio: true}, "flv")
	srsAddr := testutil.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	// The stand-in plays the file in a loop, as SRS relays a publisher
	// until it stops; SRS then calls on_unpublish.
	srs := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1", "-i", file,
		"-c", "copy", "-f", "flv", "-listen", "1", "rtmp://"+srsAddr+"/live/"+key)
	srs.Stderr = testutil.LogWriter(t, "srs stand-in: ")
	if err := srs.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srs.Wait() })

	dir := t.TempDir()
	n, err := edge.New(edge.Config{NodeID: "edge-1", DataDir: dir, Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Ingest: edge.IngestSRS, SRSHookSecret: secret,
		SRSRTMPURL: "rtmp://" + srsAddr, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runEdge(t, n)
	if n.RTMPURL() != "rtmp://"+srsAddr+"/live" {
		t.Errorf("RTMP URL %q, want SRS's", n.RTMPURL())
	}
	if status, code := srsHook(t, n, "on_publish", "sk_wrong", secret); status != 403 || code == 0 {
		t.Errorf("wrong key: %d code %d", status, code)
	}
	if status, code := srsHook(t, n, "on_publish", key, "not-the-secret"); status != 403 || code == 0 {
		t.Errorf("wrong secret: %d code %d", status, code)
	}
	if status, code := srsHook(t, n, "on_publish", key, secret); status != 200 || code != 0 {
		t.Fatalf("on_publish: %d code %d", status, code)
	}
	testutil.Until(t, 60*time.Second, "two segments in every rung", func() error {
		for _, rung := range []string{"720p", "480p", "360p"} {
			b, _ := os.ReadFile(filepath.Join(dir, "hls", "pb1", rung, "index.m3u8"))
			if strings.Count(string(b), "#EXTINF") < 2 {
				return fmt.Errorf("%s: %d segments", rung, strings.Count(string(b), "#EXTINF"))
			}
		}
		return nil
	})
	if status, code := srsHook(t, n, "on_unpublish", key, secret); status != 200 || code != 0 {
		t.Errorf("on_unpublish: %d code %d", status, code)
	}
	end := cp.waitEnded(t, "ses_1", 60*time.Second)
	if end.Reason != "unpublished" || end.RecordingBytes == 0 {
		t.Errorf("session end %+v, want unpublished with a recording", end)
	}
	for _, rung := range []string{"720p", "480p", "360p"} {
		b, err := os.ReadFile(filepath.Join(dir, "hls", "pb1", rung, "index.m3u8"))
		if err != nil || !strings.Contains(string(b), "#EXT-X-ENDLIST") {
			t.Errorf("%s playlist: %v\n%s", rung, err, b)
		}
	}
}

// TestSRSModeFlags: the mode's settings are checked at start.
func TestSRSModeFlags(t *testing.T) {
	cp := startFakeControl(t, "k", protocol.PlaybackPublic)
	for _, c := range []edge.Config{
		{Ingest: "nginx"},
		{Ingest: edge.IngestSRS}, // no secret
		{Ingest: edge.IngestSRS, SRSHookSecret: "0123456789abcdef", SRSRTMPURL: "http://x"},
		{Ingest: edge.IngestSRS, SRSHookSecret: "0123456789abcdef", RTMPSAddr: "127.0.0.1:0"},
	} {
		c.NodeID, c.DataDir, c.Control, c.JoinToken = "edge-1", t.TempDir(), []string{cp.addr()}, cp.join
		c.RTMPAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
		if _, err := edge.New(c); err == nil {
			t.Errorf("edge.New accepted ingest %q secret %q srs %q rtmps %q", c.Ingest, c.SRSHookSecret, c.SRSRTMPURL, c.RTMPSAddr)
		}
	}
}
