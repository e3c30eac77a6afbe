package rtmpingest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/live/livetest"
	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/shared/mediatest"
)

// These benchmarks print the figures of the live path beside their anchors.
// They need real ffmpeg and take minutes; run them with `make bench` (one
// iteration each: -benchtime 1x).

// arrivalSink records when each video message arrives (the moment the
// publisher's frame reaches the edge) before handing it to the adapter.
type arrivalSink struct {
	rtmp.Sink
	sess    *live.Session
	mu      sync.Mutex
	first   bool
	firstTS uint32
	video   []arrival
}

type arrival struct {
	ts uint32 // ms since the first video message
	at time.Time
}

func (s *arrivalSink) WriteMessage(m rtmp.Message) error {
	if m.Type == rtmp.TypeVideo {
		s.mu.Lock()
		if !s.first {
			s.first, s.firstTS = true, m.Timestamp
		}
		s.video = append(s.video, arrival{ts: m.Timestamp - s.firstTS, at: time.Now()})
		s.mu.Unlock()
	}
	return s.Sink.WriteMessage(m)
}

// lastBefore returns when the last frame with a timestamp before ms arrived.
func (s *arrivalSink) lastBefore(ms float64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var at time.Time
	for _, a := range s.video {
		if float64(a.ts) >= ms {
			return at, !at.IsZero()
		}
		at = a.at
	}
	return time.Time{}, false // the segment's end has not arrived yet
}

// grantAll is a Control that lets every publish go live with one grant.
type grantAll struct {
	livetest.Control
	g live.Grant
}

func (c *grantAll) Authorize(context.Context, live.PublishRequest) (live.Grant, error) {
	return c.g, nil
}

// pipeline is an RTMP ingest feeding the live core, as on an edge, without
// the control plane (which is only asked once, before the publish).
type pipeline struct {
	addr    string
	started chan *arrivalSink
}

func startPipeline(b *testing.B, g live.Grant) *pipeline {
	b.Helper()
	p := &pipeline{started: make(chan *arrivalSink, 1)}
	core := livetest.Start(b, live.Config{Control: &grantAll{g: g}})
	ad := Adapter{Core: core}
	srv, err := rtmp.NewServer(rtmp.Config{OnPublish: func(ctx context.Context, req rtmp.PublishRequest) (rtmp.Sink, error) {
		sk, err := ad.OnPublish(ctx, req)
		if err != nil {
			return nil, err
		}
		s := &arrivalSink{Sink: sk, sess: Session(sk)}
		p.started <- s
		return s, nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ctx, ln) })
	b.Cleanup(func() { cancel(); wg.Wait() })
	return p
}

// cpu returns the user+system CPU time of this process or of its reaped
// children.
func cpu(who int) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func procCPU(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// sourceFile is a synthetic 720p30 source with audio, as a creator's
// encoder would send it (H.264 with 2 s GOPs, AAC).
func sourceFile(b *testing.B, seconds int) string {
	return mediatest.File(b, mediatest.Spec{Width: 1280, Height: 720, Seconds: seconds, Audio: true})
}

// BenchmarkPipelineOverhead runs the 3-rung ladder with recording on a 60 s
// 720p30 input twice, as fast as the machine allows: once as a bare ffmpeg
// reading the file, once through our live path (RTMP ingest, FLV re-muxing,
// ffmpeg fed on stdin, supervision, progress parsing). It prints wall time
// and CPU seconds of both and their ratio.
func BenchmarkPipelineOverhead(b *testing.B) {
	mediatest.RequireFFmpeg(b)
	src := sourceFile(b, 60)
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		// Anchor: bare ffmpeg, same ladder and recording, input from the file.
		args, err := transcode.Build(transcode.Params{Input: src,
			Source: transcode.Source{Width: 1280, Height: 720, FrameRate: 30, HasAudio: true, HasVideo: true},
			Mode:   transcode.Live, OutDir: filepath.Join(dir, "bare"), RecordPath: filepath.Join(dir, "bare.mp4")})
		if err != nil {
			b.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, "bare"), 0o755)
		bare := exec.Command("ffmpeg", args...)
		t0 := time.Now()
		if out, err := bare.CombinedOutput(); err != nil {
			b.Fatalf("bare ffmpeg: %v: %s", err, tailString(out))
		}
		bareWall, bareCPU := time.Since(t0), procCPU(bare.ProcessState)

		// Ours: the publisher copies the file into our RTMP ingest.
		p := startPipeline(b, live.Grant{SessionID: "bench", HLSDir: filepath.Join(dir, "ours"), RecordPath: filepath.Join(dir, "ours.mp4")})
		selfBefore, childBefore := cpu(syscall.RUSAGE_SELF), cpu(syscall.RUSAGE_CHILDREN)
		pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", src, "-c", "copy", "-f", "flv", "rtmp://"+p.addr+"/live/bench")
		t0 = time.Now()
		if err := pub.Start(); err != nil {
			b.Fatal(err)
		}
		var sink *arrivalSink
		select {
		case sink = <-p.started:
		case <-time.After(30 * time.Second):
			b.Fatal("publish never started")
		}
		if err := pub.Wait(); err != nil {
			b.Fatalf("publisher: %v", err)
		}
		select {
		case <-sink.sess.Done():
		case <-time.After(5 * time.Minute):
			b.Fatal("session did not end")
		}
		oursWall := time.Since(t0)
		transcoderCPU := cpu(syscall.RUSAGE_CHILDREN) - childBefore - procCPU(pub.ProcessState)
		oursCPU := transcoderCPU + (cpu(syscall.RUSAGE_SELF) - selfBefore)

		b.ReportMetric(bareWall.Seconds(), "bare-wall-s")
		b.ReportMetric(oursWall.Seconds(), "ours-wall-s")
		b.ReportMetric(bareCPU.Seconds(), "bare-cpu-s")
		b.ReportMetric(oursCPU.Seconds(), "ours-cpu-s")
		b.ReportMetric(oursWall.Seconds()/bareWall.Seconds(), "wall-ratio")
		b.ReportMetric(oursCPU.Seconds()/bareCPU.Seconds(), "cpu-ratio")
		fmt.Printf("FIGURE pipeline overhead (60 s 720p30, 3 rungs + recording): bare ffmpeg wall %.1fs cpu %.1fs | ours wall %.1fs cpu %.1fs (ingest+supervisor %.2fs) | ratio wall %.3f cpu %.3f\n",
			bareWall.Seconds(), bareCPU.Seconds(), oursWall.Seconds(), oursCPU.Seconds(), (oursCPU - transcoderCPU).Seconds(),
			oursWall.Seconds()/bareWall.Seconds(), oursCPU.Seconds()/bareCPU.Seconds())
	}
}

func tailString(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

// BenchmarkIngestToPlaylist measures, for every segment of a 30 s real-time
// publish, the time from the arrival at the edge of the segment's last frame
// (the earliest moment the segment can exist) to the segment being listed
// in the variant playlist the origin serves, and from its first frame (what
// a viewer at the live edge waits for). Printed as p50/p95 per latency mode.
func BenchmarkIngestToPlaylist(b *testing.B) {
	mediatest.RequireFFmpeg(b)
	for _, mode := range []transcode.Latency{transcode.Standard, transcode.Low} {
		b.Run(string(mode), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				fromEnd, fromStart := ingestToPlaylist(b, mode, 30)
				p50, p95 := percentile(fromEnd, 50), percentile(fromEnd, 95)
				s50, s95 := percentile(fromStart, 50), percentile(fromStart, 95)
				b.ReportMetric(p50.Seconds()*1000, "p50-ms")
				b.ReportMetric(p95.Seconds()*1000, "p95-ms")
				fmt.Printf("FIGURE ingest-to-playlist %s (%d segments): last frame -> listed p50 %v p95 %v | first frame -> listed p50 %v p95 %v\n",
					mode, len(fromEnd), p50.Round(time.Millisecond), p95.Round(time.Millisecond), s50.Round(time.Millisecond), s95.Round(time.Millisecond))
			}
		})
	}
}

func ingestToPlaylist(b *testing.B, mode transcode.Latency, seconds int) (fromEnd, fromStart []time.Duration) {
	dir := b.TempDir()
	p := startPipeline(b, live.Grant{SessionID: "lat", Latency: mode, HLSDir: filepath.Join(dir, "hls")})
	mediatest.Publish(b, "rtmp://"+p.addr+"/live/lat", mediatest.Live{Spec: mediatest.Spec{Width: 1280, Height: 720,
		Seconds: seconds, GOP: 30, Audio: true}})
	var sink *arrivalSink
	select {
	case sink = <-p.started:
	case <-time.After(30 * time.Second):
		b.Fatal("publish never started")
	}
	playlist := filepath.Join(dir, "hls", "360p", "index.m3u8")
	listed := map[int]bool{}
	deadline := time.Now().Add(time.Duration(seconds+30) * time.Second)
	for time.Now().Before(deadline) {
		now := time.Now()
		durs, ended := segmentDurations(playlist)
		end := 0.0
		for n, d := range durs {
			start := end
			end += d
			if listed[n] {
				continue
			}
			listed[n] = true
			if ended && n == len(durs)-1 {
				continue // the last segment is cut by the unpublish, not by time
			}
			if at, ok := sink.lastBefore(end * 1000); ok {
				fromEnd = append(fromEnd, now.Sub(at))
			}
			if at, ok := sink.lastBefore(start*1000 + 1); ok {
				fromStart = append(fromStart, now.Sub(at))
			}
		}
		if ended {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(fromEnd) < 5 {
		b.Fatalf("only %d segments measured", len(fromEnd))
	}
	return fromEnd, fromStart
}

// segmentDurations reads the EXTINF durations of a media playlist.
func segmentDurations(path string) (durs []float64, ended bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			v, _, _ = strings.Cut(v, ",")
			d, _ := strconv.ParseFloat(v, 64)
			durs = append(durs, d)
		} else if line == "#EXT-X-ENDLIST" {
			ended = true
		}
	}
	return durs, ended
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1]
}
