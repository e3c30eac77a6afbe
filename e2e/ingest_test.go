package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

var (
	devSRTRe  = regexp.MustCompile(`(?m)^\s*SRT URL\s+(\S+)$`)
	devWHIPRe = regexp.MustCompile(`(?m)^\s*WHIP URL\s+(\S+)`)
)

// TestIngestProtocols runs `livestreams dev` and publishes to its demo
// stream over RTMP, SRT and WHIP in turn, with the URLs it prints: each
// publish plays as the 3-rung ladder through /v1/play, ends as a session
// that records its protocol, and leaves a recording asset.
func TestIngestProtocols(t *testing.T) {
	t.Parallel()
	mediatest.RequireFFmpeg(t)
	p := startProc(t, procSpec{Name: "livestreams dev", Dir: t.TempDir(), Args: append([]string{"dev", "--data-dir", "dev"}, devPorts(t)...)})
	d := waitDevOutput(t, p, 90*time.Second)
	srtURL, whipURL := devSRTRe.FindStringSubmatch(p.Output()), devWHIPRe.FindStringSubmatch(p.Output())
	if srtURL == nil || whipURL == nil {
		t.Fatalf("livestreams dev printed no SRT or WHIP URL:\n%s", p.Output())
	}
	key := d.RTMPURL[strings.LastIndex(d.RTMPURL, "/")+1:]
	if !strings.Contains(srtURL[1], "streamid=#!::r=live/"+key+",m=publish") {
		t.Errorf("SRT URL %q does not carry the key in its streamid", srtURL[1])
	}
	api := newClient(t, d.Token, d.Addr)
	playbackID := d.PlaybackURL[strings.LastIndex(d.PlaybackURL, "/")+1:]
	playbackID = strings.TrimSuffix(playbackID, ".m3u8")
	var stream client.Stream
	streams, err := api.Streams().List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		if s.PlaybackID == playbackID {
			stream = s
		}
	}
	if stream.ID == "" {
		t.Fatalf("no stream with playback id %s in %+v", playbackID, streams)
	}

	spec := mediatest.Spec{Width: 1280, Height: 720, Seconds: 10, GOP: 30, Audio: true}
	publish := map[string]func() func() error{
		"rtmp": func() func() error { return mediatest.Publish(t, d.RTMPURL, mediatest.Live{Spec: spec}).Wait },
		"srt": func() func() error {
			// A latency of 1 s (ffmpeg takes µs), as on a lossy link: the
			// 120 ms default drops packets as too late when a loaded test
			// machine starves the publisher or the dev process of CPU (the
			// previous session's recording job runs beside this one).
			return mediatest.Publish(t, srtURL[1]+"&latency=1000000", mediatest.Live{Spec: spec, Format: "mpegts"}).Wait
		},
		"whip": func() func() error {
			w := mediatest.PublishWHIP(t, whipURL[1], key, spec)
			return func() error { err := w.Wait(); w.Close(); return err }
		},
	}
	seen := map[string]bool{}
	for _, proto := range []string{"rtmp", "srt", "whip"} {
		t.Run(proto, func(t *testing.T) {
			start := time.Now()
			wait := publish[proto]()
			testutil.UntilEvery(t, 45*time.Second, 250*time.Millisecond, "the ladder playing through /v1/play", func() error {
				code, body := httpGet(t, d.PlaybackURL)
				if n := bytes.Count(body, []byte("#EXT-X-STREAM-INF")); code != http.StatusOK || n != 3 {
					return fmt.Errorf("%d, %d variants: %.300s", code, n, body)
				}
				return nil
			})
			t.Logf("FIGURE %s: publish start to a 3-rung master through /v1/play in %v", proto, time.Since(start).Round(time.Millisecond))
			if err := wait(); err != nil {
				t.Fatalf("publisher: %v", err)
			}
			var sess client.Session
			testutil.UntilEvery(t, 45*time.Second, 250*time.Millisecond, "the session to end", func() error {
				all, err := api.Streams().Sessions(t.Context(), stream.ID)
				if err != nil {
					return err
				}
				for _, s := range all {
					if !seen[s.ID] && s.EndedAt != nil {
						sess = s
						return nil
					}
				}
				return fmt.Errorf("no new ended session in %+v", all)
			})
			seen[sess.ID] = true
			if sess.Protocol != proto || sess.EndReason != "unpublished" {
				t.Errorf("session %+v, want protocol %s, unpublished", sess, proto)
			}
			testutil.UntilEvery(t, 60*time.Second, 500*time.Millisecond, "the recording asset", func() error {
				page, err := api.Assets().List(t.Context(), client.AssetFilter{Type: "recording", StreamID: stream.ID})
				if err != nil {
					return err
				}
				for _, a := range page.Items {
					if a.SessionID == sess.ID && a.Size > 0 {
						return nil
					}
				}
				return fmt.Errorf("no recording of %s among %d assets", sess.ID, len(page.Items))
			})
		})
	}
}
