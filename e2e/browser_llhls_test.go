package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// llPlayPage plays cfg.playback in hls.js with lowLatencyMode and settles
// once playback has advanced 3 s of media from where it started, with
// what hls.js made of the LL-HLS playlist: its parts, whether it could
// block on reloads, and the live latency it settled at (informative: no
// timing is asserted).
const llPlayPage = `<!doctype html><meta charset="utf-8"><title>watch low latency</title>
<video id="v" muted playsinline></video>
<script src="/hls.min.js"></script>
<script>
const cfg = %s;
window.result = (async () => {
  const video = document.getElementById('v');
  const hls = new Hls({ lowLatencyMode: true });
  await new Promise((resolve, reject) => {
    hls.on(Hls.Events.MANIFEST_PARSED, resolve);
    hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) reject(new Error('hls.js: ' + d.type + ' ' + d.details)); });
    hls.loadSource(cfg.playback);
    hls.attachMedia(video);
  });
  await video.play();
  const end = Date.now() + 40000;
  while (video.currentTime === 0) {
    if (Date.now() > end) throw new Error('playback did not start');
    await new Promise(r => setTimeout(r, 50));
  }
  const from = video.currentTime;
  while (video.currentTime < from + 3) {
    if (Date.now() > end) throw new Error('currentTime stuck at ' + video.currentTime + ' from ' + from);
    await new Promise(r => setTimeout(r, 100));
  }
  const d = hls.latestLevelDetails || {};
  return { from, currentTime: video.currentTime, parts: (d.partList || []).length,
    partTarget: d.partTarget || 0, canBlockReload: !!d.canBlockReload, latency: hls.latency || 0 };
})();
</script>`

// TestBrowserLowLatency publishes a low-latency stream to dev over RTMP
// and plays it in Debian chromium with hls.js in lowLatencyMode: hls.js
// reads the parts and the server control of the LL-HLS playlists and
// playback advances.
func TestBrowserLowLatency(t *testing.T) {
	t.Parallel()
	mediatest.RequireFFmpeg(t)
	b := startBrowser(t)
	p := startProc(t, procSpec{Name: "livestreams dev", Dir: t.TempDir(), Args: append([]string{"dev", "--data-dir", "dev"}, devPorts(t)...)})
	d := waitDevOutput(t, p, 90*time.Second)
	api := newClient(t, d.Token, d.Addr)
	stream := demoStream(t, api, d.PlaybackURL)
	low := "low"
	if _, err := api.Streams().Update(t.Context(), stream.ID, client.StreamUpdate{LatencyMode: &low}); err != nil {
		t.Fatal(err)
	}
	mediatest.Publish(t, d.RTMPURL, mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 60, GOP: 30, Audio: true}})
	testutil.UntilEvery(t, 45*time.Second, 100*time.Millisecond, "the master playlist through /v1/play", func() error {
		if code, body := httpGet(t, d.PlaybackURL); code != http.StatusOK || !strings.Contains(string(body), "#EXT-X-STREAM-INF") {
			return fmt.Errorf("%d: %.200s", code, body)
		}
		return nil
	})
	pages := pageServer(t, map[string]string{"/play-ll": llPlayPage}, map[string]any{"playback": d.PlaybackURL})
	var play struct {
		From, CurrentTime, PartTarget, Latency float64
		Parts                                  int
		CanBlockReload                         bool
	}
	b.open(t, pages+"/play-ll", &play)
	t.Logf("hls.js lowLatencyMode played %.1f -> %.1f s; %d parts listed, part target %.3f s, blocking reload %v, live latency %.2f s",
		play.From, play.CurrentTime, play.Parts, play.PartTarget, play.CanBlockReload, play.Latency)
	if play.CurrentTime < play.From+3 || play.Parts == 0 || !play.CanBlockReload || play.PartTarget <= 0 || play.PartTarget > 0.5 {
		t.Errorf("hls.js: %+v, want playback advancing on an LL-HLS playlist", play)
	}
}
