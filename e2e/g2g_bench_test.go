package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// Glass-to-glass: when a flashed frame is shown in Debian chromium with
// hls.js minus when the publisher sent it, on `livestreams dev` with the
// publisher on the same machine (one clock).
//
// The publisher is this process: it writes 1280×720 30 fps grey frames into
// an ffmpeg that encodes them as OBS would (x264, 2 s GOP, zerolatency)
// and publishes over RTMP. Once a second (frame k·30) the frame flashes:
// its top half white, its bottom half ten bars spelling k in binary. The
// send time of flash k is when its frame went into ffmpeg's stdin. The
// page (g2gPage) samples every presented frame with
// requestVideoFrameCallback, decodes flashes and logs when each was
// shown (expectedDisplayTime). The figure per flash is shown − sent.
const (
	g2gWidth, g2gHeight = 1280, 720
	g2gFPS              = 30
	g2gBits             = 10 // flash numbers wrap after 1024 s
)

// g2gPage plays cfg.playback with hls.js (defaults, or lowLatencyMode for
// a low-latency stream) and logs "FLASH k wallMillis" for each flash seen.
const g2gPage = `<!doctype html><meta charset="utf-8"><title>glass to glass</title>
<video id="v" muted playsinline></video>
<script src="/hls.min.js"></script>
<script>
const cfg = %s;
const video = document.getElementById('v');
const hls = new Hls(Object.assign(cfg.low ? { lowLatencyMode: true } : {}, cfg.debug ? { debug: true } : {}));
hls.on(Hls.Events.ERROR, (_, d) => {
  if (d.fatal) { console.log('FATAL ' + d.type + ' ' + d.details); hls.destroy(); }
  else if (d.details === 'bufferStalledError') console.log('STALL ' + Math.round(performance.now()) + ' ms, latency ' +
    (hls.latency || 0).toFixed(2) + ' s, target ' + (hls.targetLatency || 0).toFixed(2) + ' s, buffered ' +
    Array.from({ length: video.buffered.length }, (_, i) => video.buffered.start(i).toFixed(2) + '-' + video.buffered.end(i).toFixed(2)).join(',') +
    ' at ' + video.currentTime.toFixed(2));
});
// Once the stream ends the page stops playing, so that a later run has
// the machine to itself.
video.addEventListener('ended', () => hls.destroy());
// When playback starts (ms after the page opened) and how far behind the
// live edge it starts, against the latency hls.js aims at.
video.addEventListener('playing', () => console.log('START ' + Math.round(performance.now()) + ' ms, latency ' +
  (hls.latency || 0).toFixed(2) + ' s, target ' + (hls.targetLatency || 0).toFixed(2) + ' s'), { once: true });
hls.on(Hls.Events.LEVEL_LOADED, (_, d) => { if (!window.firstLevel) { window.firstLevel = 1;
  console.log('LEVEL ' + Math.round(performance.now()) + ' ms, edge ' + d.details.edge.toFixed(2) + ' parts ' + (d.details.partList || []).length); } });
hls.loadSource(cfg.playback);
hls.attachMedia(video);
video.play().catch(e => console.log('FATAL play ' + e));
const canvas = document.createElement('canvas');
canvas.width = 80; canvas.height = 36;
const g = canvas.getContext('2d', { willReadFrequently: true });
let last = -1;
function luma(px, x0, y0, x1, y1) {
  let s = 0, n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
    const i = (y * canvas.width + x) * 4;
    s += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2]; n++;
  }
  return s / n;
}
function frame(now, meta) {
  g.drawImage(video, 0, 0, canvas.width, canvas.height);
  const px = g.getImageData(0, 0, canvas.width, canvas.height).data;
  if (luma(px, 4, 2, 76, 14) > 160) {
    let k = 0;
    const bar = canvas.width / cfg.bits;
    for (let b = 0; b < cfg.bits; b++) {
      if (luma(px, Math.floor(b * bar + 2), 22, Math.floor((b + 1) * bar - 2), 34) > 128) k |= 1 << b;
    }
    if (k !== last) {
      last = k;
      console.log('FLASH ' + k + ' ' + Math.round(performance.timeOrigin + meta.expectedDisplayTime) + ' ' + (hls.latency || 0).toFixed(2));
    }
  }
  video.requestVideoFrameCallback(frame);
}
video.requestVideoFrameCallback(frame);
window.result = new Promise(() => {}); // the page runs until the browser closes
</script>`

// g2gPublisher publishes flash frames to rtmpURL until ctx ends and
// records when each flash was sent.
type g2gPublisher struct {
	mu   sync.Mutex
	sent map[int]int64 // flash number → Unix milliseconds
	done chan error
}

func startG2GPublisher(ctx context.Context, tb testing.TB, rtmpURL string) *g2gPublisher {
	tb.Helper()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error",
		"-f", "rawvideo", "-pix_fmt", "gray", "-s", fmt.Sprintf("%dx%d", g2gWidth, g2gHeight), "-r", strconv.Itoa(g2gFPS), "-i", "pipe:0",
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", strconv.Itoa(2*g2gFPS), "-pix_fmt", "yuv420p",
		"-b:v", "2500k", "-f", "flv", rtmpURL)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = testutil.LogWriter(tb, "publisher: ")
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start ffmpeg: %v", err)
	}
	p := &g2gPublisher{sent: map[int]int64{}, done: make(chan error, 1)}
	dark := make([]byte, g2gWidth*g2gHeight)
	for i := range dark {
		dark[i] = 24
	}
	go func() {
		defer stdin.Close()
		tick := time.NewTicker(time.Second / g2gFPS)
		defer tick.Stop()
		w := bufio.NewWriterSize(stdin, len(dark))
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				p.done <- nil
				return
			case <-tick.C:
			}
			img := dark
			k := n / g2gFPS % (1 << g2gBits)
			if n%g2gFPS == 0 {
				img = flashFrame(k)
			}
			if _, err := w.Write(img); err == nil {
				err = w.Flush()
			} else if ctx.Err() == nil {
				p.done <- err
				return
			}
			if n%g2gFPS == 0 {
				p.mu.Lock()
				p.sent[k] = time.Now().UnixMilli()
				p.mu.Unlock()
			}
		}
	}()
	tb.Cleanup(func() { _ = cmd.Wait() })
	return p
}

// flashFrame is flash k: the top half white, the bottom half g2gBits bars,
// white for a one bit (bit 0 on the left).
func flashFrame(k int) []byte {
	img := make([]byte, g2gWidth*g2gHeight)
	bar := g2gWidth / g2gBits
	for y := 0; y < g2gHeight; y++ {
		row := img[y*g2gWidth : (y+1)*g2gWidth]
		for x := range row {
			switch {
			case y < g2gHeight/2:
				row[x] = 250
			case k&(1<<(x/bar)) != 0:
				row[x] = 250
			default:
				row[x] = 24
			}
		}
	}
	return img
}

var flashLineRe = regexp.MustCompile(`console (/g2g-\w+): (FLASH (\d+) (\d+) ([\d.]+)|FATAL .*)`)

// g2gSample is one flash: its glass-to-glass delay and hls.js's own
// latency estimate when it was shown.
type g2gSample struct {
	at        time.Time
	delay     time.Duration
	hlsjsLate float64
}

// watchG2G opens the page for stream (path names the run) and collects
// the flashes it reports for d after the first one.
func watchG2G(tb testing.TB, br *browserRun, pages, path string, pub *g2gPublisher, d time.Duration) []g2gSample {
	tb.Helper()
	if _, err := fmt.Fprintln(br.stdin, pages+path); err != nil {
		tb.Fatal(err)
	}
	var out []g2gSample
	seen := 0
	var first time.Time
	deadline := time.Now().Add(d + 90*time.Second)
	for time.Now().Before(deadline) {
		lines := flashLineRe.FindAllStringSubmatch(br.p.Output(), -1)
		for _, m := range lines[min(seen, len(lines)):] {
			seen++
			if m[1] != path {
				continue
			}
			if strings.HasPrefix(m[2], "FATAL") {
				tb.Fatalf("%s: %s", path, m[2])
			}
			k, _ := strconv.Atoi(m[3])
			shown, _ := strconv.ParseInt(m[4], 10, 64)
			late, _ := strconv.ParseFloat(m[5], 64)
			pub.mu.Lock()
			sent, ok := pub.sent[k]
			pub.mu.Unlock()
			if !ok {
				continue
			}
			at := time.UnixMilli(shown)
			if first.IsZero() {
				first = at
			}
			out = append(out, g2gSample{at: at, delay: time.Duration(shown-sent) * time.Millisecond, hlsjsLate: late})
		}
		if !first.IsZero() && time.Since(first) > d {
			return out
		}
		select {
		case err := <-pub.done:
			tb.Fatalf("publisher stopped: %v", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	tb.Fatalf("%s: %d flashes within %v", path, len(out), d+90*time.Second)
	return nil
}

// g2gSummary is a run's median, and its drift: the median of the last
// ten flashes minus the median of the first ten.
func g2gSummary(s []g2gSample) (p50, drift time.Duration) {
	med := func(s []g2gSample) time.Duration {
		ds := make([]time.Duration, len(s))
		for i, x := range s {
			ds[i] = x.delay
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	n := min(10, len(s)/2)
	return med(s), med(s[len(s)-n:]) - med(s[:n])
}

// BenchmarkGlassToGlass measures standard and low latency on an idle
// machine, and low latency again while another stream's ladder keeps the
// machine busy. G2G_SECONDS sets how long each run watches
// (default 60; the drift figure is taken with 600), G2G_RUNS
// which runs (e.g. low,low-busy), and G2G_TRACE a file that receives
// the browser's console.
func BenchmarkGlassToGlass(b *testing.B) {
	mediatest.RequireFFmpeg(b)
	watch := 60 * time.Second
	if v, err := strconv.Atoi(os.Getenv("G2G_SECONDS")); err == nil && v > 0 {
		watch = time.Duration(v) * time.Second
	}
	br := startBrowser(b)
	p := startProc(b, procSpec{Name: "livestreams dev", Dir: b.TempDir(), Args: append([]string{"dev", "--data-dir", "dev"}, devPorts(b)...)})
	d := waitDevOutput(b, p, 90*time.Second)
	api := newClient(b, d.Token, d.Addr)
	rtmpBase := d.RTMPURL[:strings.LastIndex(d.RTMPURL, "/")+1]

	type run struct {
		name, latency string
		busy          bool
	}
	runs := []run{{"standard", "standard", false}, {"low", "low", false}, {"low-busy", "low", true}}
	if only := os.Getenv("G2G_RUNS"); only != "" { // e.g. G2G_RUNS=low,low-busy
		runs = slices.DeleteFunc(runs, func(r run) bool { return !slices.Contains(strings.Split(only, ","), r.name) })
	}
	for b.Loop() {
		for _, r := range runs {
			st, err := api.Streams().Create(b.Context(), client.StreamCreate{Name: "g2g " + r.name, LatencyMode: r.latency})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(b.Context())
			var busy *exec.Cmd
			if r.busy {
				bst, err := api.Streams().Create(b.Context(), client.StreamCreate{Name: "busy"})
				if err != nil {
					b.Fatal(err)
				}
				busy = mediatest.Publish(b, rtmpBase+bst.StreamKey, mediatest.Live{Spec: mediatest.Spec{Width: 1280, Height: 720}})
			}
			pub := startG2GPublisher(ctx, b, rtmpBase+st.StreamKey)
			playback := strings.Replace(d.PlaybackURL, pidOf(d.PlaybackURL), st.PlaybackID, 1)
			testutil.UntilEvery(b, 60*time.Second, 100*time.Millisecond, "the master playlist", func() error {
				if code, _ := httpGet(b, playback); code != http.StatusOK {
					return fmt.Errorf("status %d", code)
				}
				return nil
			})
			pages := pageServer(b, map[string]string{"/g2g-" + strings.ReplaceAll(r.name, "-", "_"): g2gPage},
				map[string]any{"playback": playback, "low": r.latency == "low", "bits": g2gBits, "debug": os.Getenv("G2G_TRACE") != ""})
			samples := watchG2G(b, br, pages, "/g2g-"+strings.ReplaceAll(r.name, "-", "_"), pub, watch)
			cancel()
			if busy != nil {
				_ = busy.Process.Kill()
			}
			prefix := "console /g2g-" + strings.ReplaceAll(r.name, "-", "_") + ": "
			stalls := strings.Count(br.p.Output(), prefix+"STALL")
			for _, l := range strings.Split(br.p.Output(), "\n") {
				if strings.HasPrefix(l, prefix+"START") || strings.HasPrefix(l, prefix+"LEVEL") || strings.HasPrefix(l, prefix+"STALL") {
					b.Logf("%s: %s", r.name, strings.TrimPrefix(l, prefix))
				}
			}
			if trace := os.Getenv("G2G_TRACE"); trace != "" { // a file for the browser's whole console
				if err := os.WriteFile(trace, []byte(br.p.Output()), 0o644); err != nil {
					b.Error(err)
				}
			}
			p50, drift := g2gSummary(samples)
			b.ReportMetric(p50.Seconds(), r.name+"-p50-s")
			b.ReportMetric(math.Abs(drift.Seconds()), r.name+"-drift-s")
			b.Logf("%s: glass-to-glass p50 %.2f s over %d flashes in %v, drift %+.2f s (hls.js's own latency estimate at the end %.2f s), %d stalls",
				r.name, p50.Seconds(), len(samples), watch, drift.Seconds(), samples[len(samples)-1].hlsjsLate, stalls)
		}
	}
}

// pidOf is the playback id in a /v1/play URL.
func pidOf(playbackURL string) string {
	base := playbackURL[strings.LastIndex(playbackURL, "/")+1:]
	return strings.TrimSuffix(base, ".m3u8")
}
