package edge_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
)

// BenchmarkLiveLatency publishes a 720p30 source (the three-rung ladder)
// and a 360p30 one (one rung: what packaging costs when the encoders keep
// up on a busy machine), 2 s GOPs and AAC, to one edge in each latency
// mode and measures, from the moment the
// edge authorized the publish (ffmpeg sends its first frame at once):
//
//   - standard: when the master playlist is served, beside the goal of
//     one segment (2 s) + 1 s (issue 15; it was 9.0 s with ffmpeg's HLS
//     muxer);
//   - low: for every LL-HLS part of the 360p rung, followed as a player
//     does with blocking reloads, the time from the publisher sending
//     the part's last frame to the part being listed (the part's end in
//     media time after t0), p50/p95, beside the part target; and when
//     the master playlist is served.
func BenchmarkLiveLatency(b *testing.B) {
	mediatest.RequireFFmpeg(b)
	const key = "sk_bench_llhls"
	e := startIngestEdge(b, key)
	base := e.HTTPURL() + "/hls/pb1/"
	var lines []string
	for i := 0; i < b.N; i++ {
		for _, run := range []struct {
			name string
			spec mediatest.Spec
		}{
			{"720p", mediatest.Spec{Width: 1280, Height: 720, Seconds: 15, GOP: 60, Audio: true}},
			{"360p", mediatest.Spec{Width: 640, Height: 360, Seconds: 15, GOP: 60, Audio: true}},
		} {
			spec := run.spec
			for _, mode := range []string{protocol.LatencyStandard, protocol.LatencyLow} {
				e.cp.mu.Lock()
				e.cp.latency = mode
				e.cp.mu.Unlock()
				before := e.cp.count("session_ended")
				os.RemoveAll(filepath.Join(e.dir, "hls", "pb1"))
				cmd := mediatest.Publish(b, e.RTMPURL()+"/"+key, mediatest.Live{Spec: spec})
				t0 := waitFor(b, func() bool { return e.ActiveSessions() > 0 }, 2*time.Millisecond)
				master := waitFor(b, func() bool { code, _ := get(base + "master.m3u8"); return code == 200 }, 5*time.Millisecond).Sub(t0)
				var lat []time.Duration
				if mode == protocol.LatencyLow {
					lat = followParts(b, base+"360p/index.m3u8", t0)
				}
				if err := cmd.Wait(); err != nil {
					b.Fatalf("%s publisher: %v", mode, err)
				}
				waitFor(b, func() bool { return e.cp.count("session_ended") > before }, 50*time.Millisecond)
				switch mode {
				case protocol.LatencyStandard:
					b.ReportMetric(master.Seconds(), run.name+"-standard-master-s")
					b.ReportMetric(3, "standard-goal-s")
					lines = append(lines, fmt.Sprintf("%s standard: master playlist served %v after the publish (goal: one 2 s segment + 1 s = 3 s; was 9.0 s)", run.name, master.Round(time.Millisecond)))
				default:
					if len(lat) < 10 {
						b.Fatalf("low: %d parts measured", len(lat))
					}
					p50, p95 := pct(lat, 50), pct(lat, 95)
					b.ReportMetric(master.Seconds(), run.name+"-low-master-s")
					b.ReportMetric(p50.Seconds()*1000, run.name+"-low-part-p50-ms")
					b.ReportMetric(p95.Seconds()*1000, run.name+"-low-part-p95-ms")
					lines = append(lines, fmt.Sprintf("%s low: master playlist served %v after the publish (was 3.1 s); part listed after its last frame was sent: p50 %v p95 %v over %d parts (part target 334 ms)",
						run.name, master.Round(time.Millisecond), p50.Round(time.Millisecond), p95.Round(time.Millisecond), len(lat)))
				}
			}
		}
	}
	fmt.Printf("FIGURE live start and LL-HLS part latency (720p30 source: three-rung ladder; 360p30: one rung, packaging without a starved CPU; 15 s over RTMP):\n  %s\n", strings.Join(lines, "\n  "))
}

// waitFor polls cond every step for up to a minute and returns when it
// held.
func waitFor(b *testing.B, cond func() bool, step time.Duration) time.Time {
	b.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(step) {
		if cond() {
			return time.Now()
		}
	}
	b.Fatal("condition not met within a minute")
	return time.Time{}
}

// followParts follows an LL-HLS media playlist with blocking reloads, one
// part at a time, until it ends, and returns for each new part the time
// from t0 + its end in media time to when the playlist listing it came
// back.
func followParts(b *testing.B, playlist string, t0 time.Time) []time.Duration {
	b.Helper()
	segEnd := map[int]float64{} // media end of each complete segment
	seen := map[[2]int]bool{}
	var lat []time.Duration
	msn, part := -1, -1
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		u := playlist
		if msn >= 0 {
			u += fmt.Sprintf("?_HLS_msn=%d&_HLS_part=%d", msn, part+1)
		}
		code, body := get(u)
		at := time.Now()
		if code == 404 {
			time.Sleep(20 * time.Millisecond) // not there yet
			continue
		}
		if code != 200 {
			b.Fatalf("%s: %d", u, code)
		}
		seq, cur := 0, 0.0
		var parts []float64
		next := 0
		for _, l := range strings.Split(string(body), "\n") {
			tag, val, _ := strings.Cut(l, ":")
			switch {
			case tag == "#EXT-X-MEDIA-SEQUENCE":
				seq, _ = strconv.Atoi(val)
				next = seq
			case tag == "#EXT-X-PART":
				d, _ := strconv.ParseFloat(strings.TrimPrefix(strings.Split(val, ",")[0], "DURATION="), 64)
				parts = append(parts, d)
			case tag == "#EXTINF":
				d, _ := strconv.ParseFloat(strings.TrimSuffix(val, ","), 64)
				start, ok := segEnd[next-1]
				if !ok && next == 0 {
					start, ok = 0, true
				}
				if ok {
					segEnd[next] = start + d
				}
				cur = d
			case l != "" && !strings.HasPrefix(l, "#"):
				next++
				parts, cur = nil, 0
			}
		}
		_ = cur
		if strings.Contains(string(body), "#EXT-X-ENDLIST") {
			return lat
		}
		// The parts of segment next (in progress).
		start, ok := segEnd[next-1]
		if next == 0 {
			start, ok = 0, true
		}
		end := start
		for j, d := range parts {
			end += d
			if ok && !seen[[2]int{next, j}] && msn >= 0 {
				lat = append(lat, at.Sub(t0.Add(time.Duration(end*float64(time.Second)))))
			}
			seen[[2]int{next, j}] = true
		}
		msn, part = next, len(parts)-1
	}
	b.Fatal("the low-latency playlist did not end within a minute")
	return nil
}
