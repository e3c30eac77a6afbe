package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/testutil"
)

// recordingResult is what the recording-vod job of an asset reported.
func recordingResult(t testing.TB, c *devCluster, assetID string) protocol.MediaResult {
	t.Helper()
	var j state.Job
	err := c.Control.Node().Store().View(func(tx *state.Tx) error {
		var err error
		j, err = tx.Job(jobs.AssetJobID(assetID))
		return err
	})
	if err != nil {
		t.Fatalf("recording-vod job of %s: %v", assetID, err)
	}
	var r protocol.MediaResult
	if err := json.Unmarshal(j.Result, &r); err != nil {
		t.Fatalf("result of %s: %v: %s", j.ID, err, j.Result)
	}
	return r
}

// TestVODFromLive: a session that ends cleanly becomes a ready asset
// whose renditions are the live ones (the recording-vod job reports
// from_live and ran no ladder transcode: every segment object is
// byte-identical to the segment the live session wrote), and the VOD
// plays through the edge.
func TestVODFromLive(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	s := newStream(t, c, client.StreamCreate{Name: "vod-from-live"})
	pub := publish(t, c.RTMPURL(s.Key), 854, 480, 12, true)
	masterWhenLive(t, c, s.PlaybackID, "", 2)
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	ended := time.Now()
	a := recordingOf(t, c, s.ID, 2*time.Minute, func(a recordingAsset) bool { return a.Status == "ready" })
	t.Logf("FIGURE vod-from-live: a 12 s session's asset ready %v after the publisher ended (at %s)", time.Since(ended).Round(100*time.Millisecond), ended.UTC().Format("15:04:05.000"))

	res := recordingResult(t, c, a.ID)
	if !res.FromLive {
		t.Fatalf("the recording-vod job transcoded again: %+v", res)
	}
	if len(res.Renditions) != 2 || res.Thumbnail == "" || res.Storyboard == nil {
		t.Errorf("result %+v: want two renditions, a thumbnail and a storyboard", res)
	}
	liveDir := filepath.Join(c.dataDir, "edge", "hls", s.PlaybackID)
	vodDir := filepath.Join(c.dataDir, "objects", "orgs", a.OrgID, "assets", a.ID, "hls")
	for _, r := range res.Renditions {
		segs, _ := filepath.Glob(filepath.Join(liveDir, r.Name, "seg_*.m4s"))
		inits, _ := filepath.Glob(filepath.Join(liveDir, r.Name, "init*.mp4"))
		if len(segs) < 5 || len(inits) != 1 {
			t.Fatalf("rung %s: %d live segments, %d init segments", r.Name, len(segs), len(inits))
		}
		for _, p := range append(inits, segs...) {
			live, _ := os.ReadFile(p)
			stored, err := os.ReadFile(filepath.Join(vodDir, r.Name, filepath.Base(p)))
			if err != nil || !bytes.Equal(live, stored) {
				t.Errorf("%s/%s: the stored object is not the live file (%v)", r.Name, filepath.Base(p), err)
			}
		}
		pl, _ := os.ReadFile(filepath.Join(vodDir, r.Name, "index.m3u8"))
		if !bytes.Contains(pl, []byte("#EXT-X-PLAYLIST-TYPE:VOD")) || !bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) ||
			bytes.Count(pl, []byte("#EXTINF")) != len(segs) {
			t.Errorf("rung %s: VOD playlist for %d segments:\n%s", r.Name, len(segs), pl)
		}
	}
	out, err := probe(t, a.PlaybackURL)
	if err != nil || duration(out) < 11 || duration(out) > 13.5 || !strings.Contains(out, "codec_type=audio") {
		t.Errorf("the VOD at %s: %v: %s", a.PlaybackURL, err, out)
	}
	// Nothing staged is left once the upload is confirmed.
	testutil.EventuallyEvery(t, 10*time.Second, devPoll, "staged renditions removed", func() bool {
		entries, _ := os.ReadDir(filepath.Join(c.dataDir, "edge", "vodlive"))
		return len(entries) == 0
	})
}

// TestVODFallsBackToTranscode: a session whose ladder is not whole — its
// ffmpeg killed mid-publish, or a segment of one rung gone — still ends
// as a ready asset, through the full transcode of the recording.
func TestVODFallsBackToTranscode(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	cases := []struct {
		name   string
		breakf func(t *testing.T, s testStream)
	}{
		{"transcoder killed", func(t *testing.T, s testStream) {
			waitSegments(t, c, s, 3)
			pids := c.Edge.TranscoderPIDs()
			if len(pids) != 1 {
				t.Fatalf("transcoder pids %v", pids)
			}
			if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}},
		{"segment missing", func(t *testing.T, s testStream) {
			segs := waitSegments(t, c, s, 3)
			if err := os.Remove(segs[1]); err != nil {
				t.Fatal(err)
			}
		}},
	}
	// One after the other, the killed transcoder first: the edge's
	// process ids are not per stream, and the other case's ffmpeg would
	// be one of them.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStream(t, c, client.StreamCreate{Name: tc.name})
			pub := publish(t, c.RTMPURL(s.Key), 640, 360, 10, true)
			masterWhenLive(t, c, s.PlaybackID, "", 1)
			tc.breakf(t, s)
			pub.Wait()
			a := recordingOf(t, c, s.ID, 3*time.Minute, func(a recordingAsset) bool { return a.Status == "ready" })
			res := recordingResult(t, c, a.ID)
			if res.FromLive || len(res.Renditions) == 0 {
				t.Errorf("result %+v: want the recording transcoded", res)
			}
			if out, err := probe(t, a.PlaybackURL); err != nil || duration(out) < 4 {
				t.Errorf("the VOD at %s: %v: %s", a.PlaybackURL, err, out)
			}
		})
	}
}

// waitSegments waits until the 360p rung of a live stream has n segment
// files and returns them.
func waitSegments(t *testing.T, c *devCluster, s testStream, n int) []string {
	t.Helper()
	var segs []string
	testutil.EventuallyEvery(t, 20*time.Second, devPoll, "segments on disk", func() bool {
		segs, _ = filepath.Glob(filepath.Join(c.dataDir, "edge", "hls", s.PlaybackID, "360p", "seg_*.m4s"))
		return len(segs) >= n
	})
	return segs
}
