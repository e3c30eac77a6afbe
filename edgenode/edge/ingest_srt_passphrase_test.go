package edge_test

import (
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestSRTPassphrase: a stream with an SRT passphrase (the control plane
// answers it with the authorization) admits only a publisher encrypting
// with it. Without one, or with a wrong one, libsrt refuses the handshake:
// ffmpeg fails, no media is read and the session the authorization opened
// never starts (it ends as no_media). With it, the publish goes live and
// ends as a clean unpublish. The passphrase reaches no log line.
func TestSRTPassphrase(t *testing.T) {
	const pass = "correct-horse-battery"
	e := startIngestEdge(t, "sk_test_srt_pass")
	e.cp.mu.Lock()
	e.cp.srtPassphrase = pass
	e.cp.mu.Unlock()
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), pass) || strings.Contains(e.logs.String(), "wrong-horse-battery") {
			t.Error("an SRT passphrase reached the log")
		}
	})
	refused := func(session, query string) {
		t.Helper()
		ctx := testutil.Context(t, 30*time.Second)
		start := time.Now()
		out, err := exec.CommandContext(ctx, "ffmpeg", mediatest.Live{Format: "mpegts",
			Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 5}}.PublishArgs(e.srtURL(e.key)+query)...).CombinedOutput()
		if err == nil {
			t.Fatalf("ffmpeg published with %q:\n%s", query, out)
		}
		t.Logf("ffmpeg with %q refused after %v: %s", query, time.Since(start).Round(time.Millisecond), testutil.LastLines(string(out), 2))
		// The authorization opened a session before libsrt checked the
		// passphrase; with no media it ends by itself, never started.
		if end := e.waitEnded(t, session, 30*time.Second); end.Reason != "no_media" {
			t.Errorf("refused publish's session end %+v, want no_media", end)
		}
		if n := e.cp.count(protocol.TypeSessionStarted); n != 0 {
			t.Errorf("%d sessions started by a refused publisher", n)
		}
		if strings.Contains(e.logs.String(), "srt publisher connected") {
			t.Error("a refused caller got a connection")
		}
	}
	refused("ses_1", "")
	refused("ses_2", "&passphrase=wrong-horse-battery")

	// An encoder that got the passphrase wrong and retries at once with
	// the right one is not refused as a duplicate of its failed attempt:
	// the new handshake releases the session the failed one opened.
	ctx := testutil.Context(t, 30*time.Second)
	if out, err := exec.CommandContext(ctx, "ffmpeg", mediatest.Live{Format: "mpegts",
		Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 5}}.PublishArgs(e.srtURL(e.key)+"&passphrase=wrong-horse-battery")...).CombinedOutput(); err == nil {
		t.Fatalf("ffmpeg published with a wrong passphrase:\n%s", out)
	}
	pub := mediatest.Publish(t, e.srtURL(e.key)+"&passphrase="+url.QueryEscape(pass), mediatest.Live{Format: "mpegts",
		Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 5, GOP: 30, Audio: true}})
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher with the passphrase right after a wrong one: %v", err)
	}
	if end := e.waitEnded(t, "ses_3", 30*time.Second); end.Reason != "no_media" {
		t.Errorf("the failed attempt's session end %+v, want no_media (released by the retry, never started)", end)
	}
	end := e.waitEnded(t, "ses_4", 60*time.Second)
	if end.Reason != "unpublished" {
		t.Errorf("session end %+v, want unpublished", end)
	}
	if n := e.cp.count(protocol.TypeSessionStarted); n != 1 {
		t.Errorf("%d sessions started, want 1 (the publisher with the passphrase)", n)
	}
	e.checkRecording(t, end, "h264", "aac")
}
