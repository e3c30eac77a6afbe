package edge_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/shared/mediatest"
)

// BenchmarkIngestToPlaylist publishes the same 20 s 720p30 source (1 s
// GOPs, AAC or Opus) over each ingest protocol in turn to one edge, and
// measures for every segment the time from the publisher sending the
// segment's last frame to the segment being listed in the 360p playlist:
// listed - (t0 + end of the segment in media time), where t0 is when the
// publisher's first frame leaves. For the pion WHIP client t0 is its first
// frame written; for ffmpeg (RTMP, RTMPS, SRT, paced by -re) it is the
// moment the edge authorized the publish, after which ffmpeg sends at
// once. The figures are p50/p95 per protocol, side by side.
func BenchmarkIngestToPlaylist(b *testing.B) {
	mediatest.RequireFFmpeg(b)
	const key = "sk_bench_ingest"
	certPath, keyPath := filepath.Join(b.TempDir(), "cert.pem"), filepath.Join(b.TempDir(), "key.pem")
	writeSelfSigned(b, certPath, keyPath, 1)
	e := startIngestEdge(b, key, func(c *edge.Config) {
		c.RTMPSAddr, c.TLSCert, c.TLSKey = "127.0.0.1:0", certPath, keyPath
	})
	spec := mediatest.Spec{Width: 1280, Height: 720, Seconds: 20, GOP: 30, Audio: true}
	type publisher func() (t0 func() time.Time, wait func() error)
	ffmpeg := func(url, format string) publisher {
		return func() (func() time.Time, func() error) {
			var authorized time.Time
			cmd := mediatest.Publish(b, url, mediatest.Live{Spec: spec, Format: format})
			// Poll for the authorization from the start: it comes within
			// a few tens of milliseconds.
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
				if e.ActiveSessions() > 0 {
					authorized = time.Now()
					break
				}
			}
			return func() time.Time { return authorized }, cmd.Wait
		}
	}
	protocols := []struct {
		name string
		pub  publisher
	}{
		{"rtmp", ffmpeg(e.RTMPURL()+"/"+key, "flv")},
		{"rtmps", ffmpeg(e.RTMPSURL()+"/"+key, "flv")},
		{"srt", ffmpeg(e.srtURL(key), "mpegts")},
		{"whip", func() (func() time.Time, func() error) {
			w := mediatest.PublishWHIP(b, e.WHIPURL(), key, spec)
			return w.FirstSent, func() error { err := w.Wait(); w.Close(); return err }
		}},
	}
	var lines []string
	for i := 0; i < b.N; i++ {
		for _, p := range protocols {
			before := e.cp.count("session_ended")
			t0, wait, lat := measurePlaylist(b, e, p.pub)
			if err := wait(); err != nil {
				b.Fatalf("%s publisher: %v", p.name, err)
			}
			for deadline := time.Now().Add(30 * time.Second); e.cp.count("session_ended") == before; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) { // the next publish needs the key free
					b.Fatalf("%s: the session did not end", p.name)
				}
			}
			if t0.IsZero() || len(lat) < 5 {
				b.Fatalf("%s: %d segments measured", p.name, len(lat))
			}
			p50, p95 := pct(lat, 50), pct(lat, 95)
			b.ReportMetric(p50.Seconds()*1000, p.name+"-p50-ms")
			b.ReportMetric(p95.Seconds()*1000, p.name+"-p95-ms")
			lines = append(lines, fmt.Sprintf("%-5s p50 %6v  p95 %6v  (%d segments)", p.name, p50.Round(time.Millisecond), p95.Round(time.Millisecond), len(lat)))
		}
	}
	fmt.Printf("FIGURE ingest-to-playlist per protocol (720p30 20 s, standard latency, last frame sent -> listed):\n  %s\n", strings.Join(lines, "\n  "))
}

// measurePlaylist starts a publish and watches the 360p playlist until it
// ends, returning when each segment was listed relative to when its last
// frame was sent.
func measurePlaylist(b *testing.B, e *ingestEdge, pub func() (func() time.Time, func() error)) (time.Time, func() error, []time.Duration) {
	playlist := filepath.Join(e.dir, "hls", "pb1", "360p", "index.m3u8")
	os.Remove(playlist) // the previous session's
	firstOf, wait := pub()
	listedAt := map[int]time.Time{}
	var ends []float64
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		durs, ended := extinf(playlist)
		now := time.Now()
		end := 0.0
		ends = ends[:0]
		for n, d := range durs {
			end += d
			ends = append(ends, end)
			if _, ok := listedAt[n]; !ok {
				listedAt[n] = now
			}
		}
		if ended {
			ends = ends[:max(len(ends)-1, 0)] // the last is cut by the unpublish, not by time
			break
		}
	}
	t0 := firstOf()
	var out []time.Duration
	for n, end := range ends {
		out = append(out, listedAt[n].Sub(t0.Add(time.Duration(end*float64(time.Second)))))
	}
	return t0, wait, out
}

// extinf reads a media playlist's segment durations.
func extinf(path string) (durs []float64, ended bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "#EXTINF:"); ok {
			v, _, _ = strings.Cut(v, ",")
			d, _ := strconv.ParseFloat(v, 64)
			durs = append(durs, d)
		} else if sc.Text() == "#EXT-X-ENDLIST" {
			ended = true
		}
	}
	return durs, ended
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := max((len(s)*p+99)/100-1, 0)
	return s[min(i, len(s)-1)]
}
