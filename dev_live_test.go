package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/testutil"
)

func streamStatus(t *testing.T, c *devCluster, id string) client.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.API.Streams().Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// masterWhenLive polls the control plane's playback URL until it redirects
// to a master playlist listing want variants.
func masterWhenLive(t *testing.T, c *devCluster, pid, query string, want int) (string, []variant) {
	t.Helper()
	var final string
	var vs []variant
	testutil.EventuallyEvery(t, 30*time.Second, devPoll, "a master playlist with variants", func() bool {
		code, body, u := get(t, c.PlaybackURL(pid)+query)
		if code != http.StatusOK {
			return false
		}
		final, vs = u, parseMaster(string(body))
		return len(vs) >= want
	})
	return final, vs
}

// TestLivePath is the product's heart end to end: publish 20 s of 720p with
// audio over RTMP, watch three renditions while live, then find the ended
// playlists and a recording that plays in full.
func TestLivePath(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	s := newStream(t, c, client.StreamCreate{Name: "e2e"})
	pub := publish(t, c.RTMPURL(s.Key), 1280, 720, 20, true)

	master, vs := masterWhenLive(t, c, s.PlaybackID, "", 3)
	res := map[string]bool{}
	for _, v := range vs {
		res[v.Resolution] = true
		if !strings.Contains(v.Codecs, "avc1") || !strings.Contains(v.Codecs, "mp4a") {
			t.Errorf("variant %s codecs %q, want avc1 and mp4a", v.Resolution, v.Codecs)
		}
	}
	for _, want := range []string{"1280x720", "854x480", "640x360"} {
		if !res[want] {
			t.Errorf("master playlist lacks %s: %+v", want, vs)
		}
	}
	if st := streamStatus(t, c, s.ID); st.Status != "active" {
		t.Errorf("stream status while live = %v, want active", st.Status)
	}
	for _, v := range vs {
		vu := resolve(master, v.URI)
		var initURI string
		var segs []string
		testutil.EventuallyEvery(t, 20*time.Second, devPoll, "segments of "+v.Resolution, func() bool {
			_, body, _ := get(t, vu)
			initURI, segs, _ = mediaPlaylist(string(body))
			return initURI != "" && len(segs) > 0
		})
		out := decodeSegment(t, resolve(vu, initURI), resolve(vu, segs[0]))
		w, h, _ := strings.Cut(v.Resolution, "x")
		if !strings.Contains(out, "width="+w) || !strings.Contains(out, "height="+h) || !strings.Contains(out, "codec_type=audio") {
			t.Errorf("segment of %s decodes as %q", v.Resolution, out)
		}
	}
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}

	// After unpublish: every variant playlist ends, the stream is idle.
	for _, v := range vs {
		vu := resolve(master, v.URI)
		testutil.EventuallyEvery(t, 20*time.Second, devPoll, "#EXT-X-ENDLIST in "+v.Resolution, func() bool {
			_, body, _ := get(t, vu)
			_, _, ended := mediaPlaylist(string(body))
			return ended
		})
	}
	testutil.EventuallyEvery(t, 10*time.Second, devPoll, "stream idle", func() bool { return streamStatus(t, c, s.ID).Status == "idle" })

	rec := waitRecording(t, c, s.ID)
	out, err := probe(t, rec)
	if err != nil {
		t.Fatalf("recording does not probe: %v: %s", err, out)
	}
	d := duration(out)
	t.Logf("recording %s: %s", filepath.Base(rec), strings.ReplaceAll(out, "\n", " | "))
	if d < 18 || d > 22 {
		t.Errorf("recording lasts %.1fs, want about 20s", d)
	}

	// The recording becomes a VOD asset that plays from the API's playback
	// URL, through the edge, out of the local store.
	a := recordingOf(t, c, s.ID, 3*time.Minute, func(a recordingAsset) bool { return a.Status == "ready" })
	vod, err := probe(t, a.PlaybackURL)
	if err != nil || duration(vod) < 18 || duration(vod) > 22 {
		t.Errorf("the VOD at %s: %v: %s", a.PlaybackURL, err, vod)
	}
}

func duration(probeOut string) float64 {
	i := strings.Index(probeOut, "duration=")
	if i < 0 {
		return 0
	}
	v := probeOut[i+len("duration="):]
	if j := strings.IndexAny(v, "|\n"); j >= 0 {
		v = v[:j]
	}
	f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
	return f
}

type recordingAsset = client.Asset

// recordingOf returns the recording asset of a stream once cond holds.
func recordingOf(t testing.TB, c *devCluster, streamID string, limit time.Duration, cond func(recordingAsset) bool) recordingAsset {
	t.Helper()
	var a recordingAsset
	testutil.EventuallyEvery(t, limit, devPoll, "the recording asset of "+streamID, func() bool {
		page, _ := c.API.Assets().List(context.Background(), client.AssetFilter{Type: "recording", StreamID: streamID})
		if len(page.Items) == 0 {
			return false
		}
		a = page.Items[0]
		return cond(a)
	})
	return a
}

// waitRecording returns the path, in the dev cluster's local object store,
// of the stream's recording once the edge has uploaded it and deleted its
// own copy.
func waitRecording(t *testing.T, c *devCluster, streamID string) string {
	t.Helper()
	a := recordingOf(t, c, streamID, 30*time.Second, func(recordingAsset) bool { return true })
	testutil.EventuallyEvery(t, 10*time.Second, devPoll, "the edge's copy deleted", func() bool {
		matches, _ := filepath.Glob(filepath.Join(c.dataDir, "edge", "recordings", "*.mp4"))
		return len(matches) == 0
	})
	return filepath.Join(c.dataDir, "objects", "orgs", a.OrgID, "assets", a.ID, "source.mp4")
}

// TestLadderFollowsSource: no audio in, no audio out; a 360p source gets
// only the 360p rung (never upscaled).
func TestLadderFollowsSource(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	s := newStream(t, c, client.StreamCreate{Name: "small-silent"})
	pub := publish(t, c.RTMPURL(s.Key), 640, 360, 8, false)
	master, vs := masterWhenLive(t, c, s.PlaybackID, "", 1)
	if len(vs) != 1 || vs[0].Resolution != "640x360" {
		t.Fatalf("variants for a 640x360 source: %+v", vs)
	}
	if strings.Contains(vs[0].Codecs, "mp4a") {
		t.Errorf("audio codec listed for a silent source: %q", vs[0].Codecs)
	}
	vu := resolve(master, vs[0].URI)
	var initURI string
	var segs []string
	testutil.EventuallyEvery(t, 20*time.Second, devPoll, "segments", func() bool {
		_, body, _ := get(t, vu)
		initURI, segs, _ = mediaPlaylist(string(body))
		return initURI != "" && len(segs) > 0
	})
	if out := decodeSegment(t, resolve(vu, initURI), resolve(vu, segs[0])); strings.Contains(out, "codec_type=audio") {
		t.Errorf("segment of a silent source has audio: %s", out)
	}
	pub.Wait()
}

// TestWrongKeyRefused: an unknown key is refused before any media is
// accepted, and no session or ffmpeg starts.
func TestWrongKeyRefused(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	pub := publish(t, c.RTMPURL("sk_notarealkeynotarealkey"), 320, 240, 3, false)
	done := make(chan error, 1)
	go func() { done <- pub.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("publisher with a wrong key exited 0")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("publisher with a wrong key was not refused")
	}
	if n := c.Edge.ActiveSessions(); n != 0 {
		t.Fatalf("%d sessions started for a wrong key", n)
	}
}

// TestTranscoderKilled: kill -9 of the edge's ffmpeg mid-publish leaves a
// recording playable up to its last fragment, and the session ends.
func TestTranscoderKilled(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	s := newStream(t, c, client.StreamCreate{Name: "crash"})
	publish(t, c.RTMPURL(s.Key), 640, 360, 30, true)
	masterWhenLive(t, c, s.PlaybackID, "", 1)
	time.Sleep(3 * time.Second) // let a few fragments reach the recording
	pids := c.Edge.TranscoderPIDs()
	if len(pids) != 1 {
		t.Fatalf("transcoder pids %v", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rec := waitRecording(t, c, s.ID)
	out, err := probe(t, rec)
	if err != nil || duration(out) < 2 {
		t.Fatalf("recording after kill -9: %v: %s", err, out)
	}
	testutil.EventuallyEvery(t, 10*time.Second, devPoll, "stream idle", func() bool { return streamStatus(t, c, s.ID).Status == "idle" })
}

// TestStalledPublisherEnds: a publisher that stops sending without closing
// the connection loses its session within about ten seconds.
func TestStalledPublisherEnds(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	s := newStream(t, c, client.StreamCreate{Name: "stall"})
	pub := publish(t, c.RTMPURL(s.Key), 320, 240, 60, false)
	masterWhenLive(t, c, s.PlaybackID, "", 1)
	if err := pub.Process.Signal(syscall.SIGSTOP); err != nil { // frozen, socket open
		t.Fatal(err)
	}
	defer pub.Process.Signal(syscall.SIGCONT)
	stalled := time.Now()
	testutil.EventuallyEvery(t, 15*time.Second, devPoll, "stalled session to end", func() bool { return streamStatus(t, c, s.ID).Status == "idle" })
	took := time.Since(stalled)
	t.Logf("FIGURE stall: session ended %v after the publisher froze", took.Round(100*time.Millisecond))
	if took > 12*time.Second {
		t.Errorf("stalled session ended after %v, want about 10s", took)
	}
}
