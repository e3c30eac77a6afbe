package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// publishPage goes live from the fake camera and microphone over WHIP,
// through the control plane's proxy with the user's session: H.264 and
// Opus, sent only. window.result settles once the peer connection is up.
const publishPage = `<!doctype html><meta charset="utf-8"><title>go live</title>
<script>
const cfg = %s;
async function until(what, cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(what + ' not within ' + ms + ' ms');
    await new Promise(r => setTimeout(r, 50));
  }
}
window.result = (async () => {
  const media = await navigator.mediaDevices.getUserMedia({
    video: { width: { exact: 1280 }, height: { exact: 720 }, frameRate: 30 }, audio: true });
  const h264 = RTCRtpSender.getCapabilities('video').codecs.filter(c => c.mimeType === 'video/H264');
  if (!h264.length) throw new Error('this chromium cannot send H264 over WebRTC: ' +
    RTCRtpSender.getCapabilities('video').codecs.map(c => c.mimeType).join(' '));
  // Constrained baseline, packetization-mode 1 first: what every WHIP
  // server takes.
  h264.sort((a, b) => (b.sdpFmtpLine || '').includes('packetization-mode=1') - (a.sdpFmtpLine || '').includes('packetization-mode=1'));
  const opus = RTCRtpSender.getCapabilities('audio').codecs.filter(c => c.mimeType === 'audio/opus');
  const pc = new RTCPeerConnection();
  const video = pc.addTransceiver(media.getVideoTracks()[0], { direction: 'sendonly' });
  const audio = pc.addTransceiver(media.getAudioTracks()[0], { direction: 'sendonly' });
  video.setCodecPreferences(h264);
  audio.setCodecPreferences(opus);
  // The ladder is chosen from the first frames: keep the camera's size
  // while the bandwidth estimate ramps up.
  const params = video.sender.getParameters();
  params.degradationPreference = 'maintain-resolution';
  await video.sender.setParameters(params);
  await pc.setLocalDescription(await pc.createOffer());
  // WHIP without trickle: the offer carries the candidates.
  await until('ICE gathering', () => pc.iceGatheringState === 'complete', 5000);
  const started = performance.now();
  const resp = await fetch(cfg.api + '/v1/streams/' + cfg.stream + '/whip', {
    method: 'POST', body: pc.localDescription.sdp,
    headers: { 'Authorization': 'Bearer ' + cfg.token, 'Content-Type': 'application/sdp' },
  });
  const answer = await resp.text();
  if (resp.status !== 201) throw new Error('POST whip: ' + resp.status + ' ' + answer);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await until('the peer connection', () => pc.connectionState === 'connected', 20000);
  window.pc = pc; // kept alive: the tab goes on publishing
  const s = media.getVideoTracks()[0].getSettings();
  return {
    location: resp.headers.get('Location'), width: s.width, height: s.height,
    videoCodec: (answer.match(/a=rtpmap:\d+ (H264|VP8|VP9|AV1)\//) || [])[1],
    connectMs: Math.round(performance.now() - started),
  };
})();
</script>`

// playPage plays the stream's playback URL with hls.js and settles once
// the video has played past 2 s, with a frame drawn to a canvas.
const playPage = `<!doctype html><meta charset="utf-8"><title>watch</title>
<video id="v" muted playsinline></video><canvas id="c"></canvas>
<script src="/hls.min.js"></script>
<script>
const cfg = %s;
window.result = (async () => {
  const video = document.getElementById('v');
  const hls = new Hls();
  await new Promise((resolve, reject) => {
    hls.on(Hls.Events.MANIFEST_PARSED, resolve);
    hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) reject(new Error('hls.js: ' + d.type + ' ' + d.details)); });
    hls.loadSource(cfg.playback);
    hls.attachMedia(video);
  });
  await video.play();
  const end = Date.now() + 40000;
  while (video.currentTime <= 2) {
    if (Date.now() > end) throw new Error('currentTime stuck at ' + video.currentTime);
    await new Promise(r => setTimeout(r, 100));
  }
  // One frame's luma: a black frame has neither brightness nor variance.
  const canvas = document.getElementById('c');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const g = canvas.getContext('2d');
  g.drawImage(video, 0, 0);
  const px = g.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, sq = 0, n = 0;
  for (let i = 0; i < px.length; i += 16) {
    const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
    sum += y; sq += y * y; n++;
  }
  const mean = sum / n;
  return { currentTime: video.currentTime, width: video.videoWidth, height: video.videoHeight,
    levels: hls.levels.map(l => l.height), lumaMean: mean, lumaVariance: sq / n - mean * mean };
})();
</script>`

// browserRun is the chromium of e2e/browser/pages.mjs: each opened URL is
// a tab, whose result the test waits for.
type browserRun struct {
	p     *proc
	stdin io.WriteCloser
}

// startBrowser starts pages.mjs in a headless Debian chromium with a fake
// camera; it skips the test when chromium or the node project is missing
// (`make deps-test` installs both).
func startBrowser(t testing.TB) *browserRun {
	t.Helper()
	chromium := requireChromium(t)
	r, w := io.Pipe()
	b := &browserRun{stdin: w, p: startProc(t, procSpec{Name: "chromium (pages.mjs)", Bin: "node", Args: []string{"pages.mjs"},
		Dir: "browser", Stdin: r, Env: []string{"CHROMIUM=" + chromium, "PAGE_TIMEOUT_MS=60000"}})}
	t.Cleanup(func() { w.Close() }) // before the process's cleanup: the browser closes itself
	return b
}

// requireChromium is the path of the Debian chromium the browser tests
// drive, after checking it and the node project of e2e/browser are there
// (`make deps-test` installs both).
func requireChromium(t testing.TB) string {
	t.Helper()
	chromium := cmp.Or(os.Getenv("CHROMIUM"), "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		testutil.Missing(t, "no chromium (Debian: apt-get install chromium; make deps-test)")
	}
	if _, err := os.Stat("browser/node_modules/playwright-core"); err != nil {
		testutil.Missing(t, "e2e/browser is not installed (npm ci --prefix e2e/browser; make deps-test)")
	}
	return chromium
}

// open opens rawURL in a tab of its own and waits for its window.result
// (within 70 s: the page bounds itself at 60) into out.
func (b *browserRun) open(t testing.TB, rawURL string, out any) {
	t.Helper()
	u, err := neturl.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintln(b.stdin, rawURL); err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	path := u.Path
	m := b.p.WaitOutput(t, 70*time.Second, regexp.MustCompile(`(?m)^(RESULT|ERROR) `+regexp.QuoteMeta(path)+` (.*)$`))
	if m[1] == "ERROR" {
		t.Fatalf("page %s: %s\n%s", path, m[2], testutil.LastLines(b.p.Output(), 30))
	}
	if err := json.Unmarshal([]byte(m[2]), out); err != nil {
		t.Fatalf("page %s result %q: %v", path, m[2], err)
	}
}

// pageServer serves the test's pages and hls.js on 127.0.0.1; cfg is
// each page's configuration, as JSON.
func pageServer(t testing.TB, pages map[string]string, cfg map[string]any) string {
	t.Helper()
	hlsJS, err := os.ReadFile("browser/node_modules/hls.js/dist/hls.min.js")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(cfg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hls.min.js" {
			w.Header().Set("Content-Type", "text/javascript")
			w.Write(hlsJS)
			return
		}
		page, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, page, raw)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// demoStream finds dev's demo stream by the playback URL it printed.
func demoStream(t *testing.T, api *client.Client, playbackURL string) client.Stream {
	t.Helper()
	pid := strings.TrimSuffix(playbackURL[strings.LastIndex(playbackURL, "/")+1:], ".m3u8")
	streams, err := api.Streams().List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		if s.PlaybackID == pid {
			return s
		}
	}
	t.Fatalf("no stream with playback id %s in %+v", pid, streams)
	return client.Stream{}
}

var resolutionRe = regexp.MustCompile(`RESOLUTION=\d+x(\d+)`)

// TestBrowserWHIP goes live from Debian chromium's fake camera, as the
// dashboard does: a page on 127.0.0.1 signs in (a session token, never
// the stream key), posts its WHIP offer to the control plane's proxy
// /v1/streams/{id}/whip, and sends H.264 and Opus to dev's edge on
// loopback. The ladder the source's size allows (never an upscale)
// appears through /v1/play, a second page plays it in hls.js past 2 s on
// a frame that is not black, and a DELETE of the proxy's resource ends
// the session as an unpublished WHIP session.
func TestBrowserWHIP(t *testing.T) {
	t.Parallel()
	mediatest.RequireFFmpeg(t)
	b := startBrowser(t)
	p := startProc(t, procSpec{Name: "livestreams dev", Dir: t.TempDir(), Args: append([]string{"dev", "--data-dir", "dev"}, devPorts(t)...)})
	d := waitDevOutput(t, p, 90*time.Second)
	stream := demoStream(t, newClient(t, d.Token, d.Addr), d.PlaybackURL)
	login, err := newClient(t, "", d.Addr).Auth().Login(t.Context(), client.Login{Email: d.Email, Password: d.Password})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	user := newClient(t, login.Token, d.Addr)
	pages := pageServer(t, map[string]string{"/publish": publishPage, "/play": playPage},
		map[string]any{"api": d.Addr, "stream": stream.ID, "token": login.Token, "playback": d.PlaybackURL})

	start := time.Now()
	var pub struct {
		Location, VideoCodec string
		Width, Height        int
		ConnectMs            float64
	}
	b.open(t, pages+"/publish", &pub)
	connected := time.Since(start)
	t.Logf("chromium published %dx%d %s, WHIP resource %s; answer to connected in %v ms", pub.Width, pub.Height, pub.VideoCodec, pub.Location, pub.ConnectMs)
	if pub.VideoCodec != "H264" || !strings.HasPrefix(pub.Location, "/v1/streams/"+stream.ID+"/whip/") {
		t.Errorf("publish: codec %q, Location %q; want H264 under the proxy", pub.VideoCodec, pub.Location)
	}

	var want []int
	for _, r := range transcode.DefaultLadder() {
		if r.Height <= pub.Height {
			want = append(want, r.Height)
		}
	}
	testutil.UntilEvery(t, 45*time.Second, 100*time.Millisecond, fmt.Sprintf("a %d-rung master through /v1/play", len(want)), func() error {
		code, body := httpGet(t, d.PlaybackURL)
		var got []int
		for _, m := range resolutionRe.FindAllSubmatch(body, -1) {
			h, _ := strconv.Atoi(string(m[1]))
			got = append(got, h)
		}
		if code != http.StatusOK || fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("%d, rung heights %v, want %v: %.300s", code, got, want, body)
		}
		return nil
	})
	ladder := time.Since(start)
	t.Logf("FIGURE browser WHIP: page opened -> connected in %v, -> %d-rung master through /v1/play in %v (%v after connected)",
		connected.Round(time.Millisecond), len(want), ladder.Round(time.Millisecond), (ladder - connected).Round(time.Millisecond))

	var play struct {
		CurrentTime, LumaMean, LumaVariance float64
		Width, Height                       int
		Levels                              []int
	}
	b.open(t, pages+"/play", &play)
	t.Logf("hls.js played to %.1f s at %dx%d (levels %v), luma mean %.0f variance %.0f", play.CurrentTime, play.Width, play.Height, play.Levels, play.LumaMean, play.LumaVariance)
	if play.CurrentTime <= 2 || len(play.Levels) != len(want) || play.Width == 0 {
		t.Errorf("hls.js: %+v, want past 2 s with %d levels", play, len(want))
	}
	if play.LumaMean < 16 || play.LumaVariance < 25 {
		t.Errorf("the frame hls.js shows is black or flat: luma mean %.1f variance %.1f", play.LumaMean, play.LumaVariance)
	}

	// End the session through the proxy, with the session token.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, d.Addr+pub.Location, nil)
	req.Header.Set("Authorization", "Bearer "+login.Token)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("DELETE %s: %v", pub.Location, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE the WHIP resource: %d", resp.StatusCode)
	}
	testutil.UntilEvery(t, 30*time.Second, 250*time.Millisecond, "the WHIP session to end", func() error {
		all, err := user.Streams().Sessions(t.Context(), stream.ID)
		if err != nil {
			return err
		}
		if len(all) != 1 || all[0].EndedAt == nil {
			return fmt.Errorf("sessions %+v", all)
		}
		if s := all[0]; s.Protocol != "whip" || s.EndReason != "unpublished" || s.Source == nil || s.Source.Height != pub.Height {
			t.Errorf("session %+v (source %+v), want an unpublished whip session of the %dp camera", s, s.Source, pub.Height)
		}
		return nil
	})
}
