package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/edgenode/mediajobs"
	"github.com/livestreams/livestreams/edgenode/workpool"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// children samples this process's ffmpeg children from /proc, as ps would.
type children struct {
	mu sync.Mutex
	// peak is the most thumbnail ffmpegs seen at once.
	peak int
	// thumbs and ladders are the nice value of every thumbnail and live
	// ladder ffmpeg seen, by pid; cmds their argument vectors.
	thumbs, ladders map[int]int
	cmds            map[int]string
}

// childProc is one child as /proc shows it.
type childProc struct {
	pid, nice int
	cmdline   string
}

// ownChildren lists the processes whose parent is this test binary.
func ownChildren() []childProc {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	var out []childProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... ; fields after the comm's ")".
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 17 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != self {
			continue
		}
		nice, _ := strconv.Atoi(f[16]) // field 19 of stat
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, childProc{pid: pid, nice: nice, cmdline: strings.ReplaceAll(string(cmd), "\x00", " ")})
	}
	return out
}

// watch samples until ctx ends; wait for the returned channel.
func (c *children) watch(ctx context.Context) <-chan struct{} {
	c.thumbs, c.ladders, c.cmds = map[int]int{}, map[int]int{}, map[int]string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			n := 0
			c.mu.Lock()
			for _, p := range ownChildren() {
				switch {
				case strings.Contains(p.cmdline, "-frames:v 1"): // a thumbnail
					n++
					if !strings.HasPrefix(p.cmdline, "nice ") && !strings.Contains(p.cmdline, "/nice ") {
						c.thumbs[p.pid] = p.nice
					}
					c.cmds[p.pid] = p.cmdline
				case strings.Contains(p.cmdline, "-hls_time") || strings.Contains(p.cmdline, "-f tee"): // the live ladder
					c.ladders[p.pid] = p.nice
					c.cmds[p.pid] = p.cmdline
				}
			}
			c.peak = max(c.peak, n)
			c.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done
}

// segments notes when each segment of a live playlist first appears and
// the durations the playlist gives them.
type segments struct {
	mu       sync.Mutex
	firstAt  map[string]time.Time
	order    []string
	duration map[string]float64
}

func (s *segments) watch(ctx context.Context, playlist string) <-chan struct{} {
	s.firstAt, s.duration = map[string]time.Time{}, map[string]float64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			code, body := get(playlist)
			now := time.Now()
			if code == 200 {
				s.mu.Lock()
				sc := bufio.NewScanner(bytes.NewReader(body))
				var extinf float64
				for sc.Scan() {
					line := sc.Text()
					if v, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
						extinf, _ = strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
						continue
					}
					if line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					name, _, _ := strings.Cut(line, "?")
					if _, seen := s.firstAt[name]; !seen {
						s.firstAt[name] = now
						s.order = append(s.order, name)
						s.duration[name] = extinf
					}
				}
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done
}

func (s *segments) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// TestThumbnailFlood is issue 12's finding 1: 200 requests for thumbnails
// at distinct times of a public asset, all at once, while the same edge
// runs a live ladder. At most the pool's workers run ffmpeg at once
// (niced; the ladder is not); every answer is a JPEG or a 503 with
// Retry-After; the live ladder keeps writing 2 s segments on time and the
// edge keeps heartbeating.
func TestThumbnailFlood(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	const key = "sk_test_flood"
	const workers = 2
	cp := startFakeControl(t, key, protocol.PlaybackPublic)

	srv := httptest.NewUnstartedServer(nil)
	store, err := objstore.NewLocal(t.TempDir(), "http://"+srv.Listener.Addr().String(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv.Config.Handler = store.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	src := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 60})
	prefix, _ := objstore.AssetPrefix("org_test", "ast_flood")
	if _, err := store.PutFile(t.Context(), prefix+objstore.SourceFile, src, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	cp.mu.Lock()
	cp.assets = map[string]*protocol.AssetPlayback{"pbvod": {ID: "ast_flood", Prefix: prefix, Ready: true,
		SourceKey: prefix + objstore.SourceFile, Duration: 60}}
	cp.mu.Unlock()

	runner, err := mediajobs.NewRunner(mediajobs.Config{Store: store, WorkDir: t.TempDir(), Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := edge.New(edge.Config{NodeID: "edge-1", DataDir: t.TempDir(), Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ObjectStore: store, Runner: runner,
		RequestWork: workpool.Config{Workers: workers, Queue: 4, Wait: time.Second}, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	stop := runEdge(t, n)
	t.Cleanup(func() { stop(); runner.Close() })

	mediatest.Publish(t, n.RTMPURL()+"/"+key, mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 120}})
	live := n.HTTPURL() + "/hls/pb1/360p/index.m3u8"
	testutil.Eventually(t, 30*time.Second, "the live playlist", func() bool { code, _ := get(live); return code == 200 })

	ctx, cancel := context.WithCancel(t.Context())
	var segs segments
	var procs children
	segsDone, procsDone := segs.watch(ctx, live), procs.watch(ctx)
	defer func() { cancel(); <-segsDone; <-procsDone }()
	testutil.Eventually(t, 30*time.Second, "two live segments", func() bool { return segs.count() >= 2 })
	beats := cp.count(protocol.TypeHeartbeat)
	segsBefore := segs.count()

	// 200 requests at distinct times, all at once.
	thumb := n.HTTPURL() + "/hls/pbvod/thumbnail.jpg?time="
	type answer struct {
		code       int
		retryAfter string
		jpeg       bool
	}
	answers := make([]answer, 200)
	floodStart := time.Now()
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			resp, err := http.Get(thumb + strconv.FormatFloat(float64(i)*0.29, 'f', 2, 64))
			if err != nil {
				return
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			answers[i] = answer{resp.StatusCode, resp.Header.Get("Retry-After"), bytes.HasPrefix(b.Bytes(), []byte{0xFF, 0xD8})}
		})
	}
	wg.Wait()
	flood := time.Since(floodStart)

	// The same fresh time asked 20 times at once: one ffmpeg.
	procs.mu.Lock()
	before := len(procs.cmds)
	procs.mu.Unlock()
	same := make([]int, 20)
	for i := range same {
		wg.Go(func() { same[i], _ = get(thumb + "59.2") })
	}
	wg.Wait()

	// A few more live segments after the flood, then judge.
	testutil.Eventually(t, 30*time.Second, "six more live segments", func() bool { return segs.count() >= segsBefore+6 })
	cancel()
	<-segsDone
	<-procsDone

	ok, busy := 0, 0
	for i, a := range answers {
		switch {
		case a.code == 200 && a.jpeg:
			ok++
		case a.code == http.StatusServiceUnavailable && a.retryAfter != "":
			busy++
		default:
			t.Errorf("request %d: %d (Retry-After %q, jpeg %v), want a JPEG or 503 with Retry-After", i, a.code, a.retryAfter, a.jpeg)
		}
	}
	sameOK := 0
	for _, c := range same {
		if c == 200 {
			sameOK++
		}
	}
	procs.mu.Lock()
	sameRuns := 0
	for _, cmd := range procs.cmds {
		if strings.Contains(cmd, "-ss 59.000 ") {
			sameRuns++
		}
	}
	t.Logf("FIGURE thumbnail flood: 200 requests in %v: %d JPEGs, %d × 503 Retry-After; at most %d thumbnail ffmpegs at once (pool %d), %d run in all; 20 identical requests -> %d × 200, %d ffmpeg",
		flood.Round(time.Millisecond), ok, busy, procs.peak, workers, before, sameOK, sameRuns)
	if procs.peak > workers {
		t.Errorf("%d thumbnail ffmpegs at once, want at most the pool's %d", procs.peak, workers)
	}
	if sameRuns > 1 || sameOK == 0 {
		t.Errorf("20 identical requests: %d × 200 from %d ffmpeg runs, want one run", sameOK, sameRuns)
	}
	for pid, nice := range procs.thumbs {
		if nice != mediajobs.Nice {
			t.Errorf("thumbnail ffmpeg %d runs at nice %d, want %d", pid, nice, mediajobs.Nice)
		}
	}
	// No secret in any argument vector: the thumbnails read the source
	// through the runner's loopback proxy, the ladder its input on a pipe
	// (issue 12, finding 6).
	for pid, cmd := range procs.cmds {
		for _, secret := range []string{"sig=", "exp=", "/objects/", key} {
			if strings.Contains(cmd, secret) {
				t.Errorf("ffmpeg %d shows %q in its arguments: %s", pid, secret, cmd)
			}
		}
	}
	if len(procs.ladders) == 0 {
		t.Error("never saw the live ladder's ffmpeg")
	}
	for pid, nice := range procs.ladders {
		if nice != 0 {
			t.Errorf("live ladder ffmpeg %d runs at nice %d, want 0", pid, nice)
		}
	}
	procs.mu.Unlock()

	// The live ladder: every segment 2 s ± 0.5 s of media (what ffmpeg
	// wrote), and segments kept coming during the flood (when each first
	// appeared in the playlist).
	segs.mu.Lock()
	defer segs.mu.Unlock()
	var gaps []time.Duration
	for i, name := range segs.order {
		if d := segs.duration[name]; i < len(segs.order)-1 && (d < 1.5 || d > 2.5) {
			t.Errorf("live segment %s lasts %.3f s, want 2 ± 0.5", name, d)
		}
		if i > 0 && i > segsBefore-1 {
			gaps = append(gaps, segs.firstAt[name].Sub(segs.firstAt[segs.order[i-1]]))
		}
	}
	slices.Sort(gaps)
	var worst time.Duration
	if len(gaps) > 0 {
		worst = gaps[len(gaps)-1]
	}
	t.Logf("FIGURE live ladder during the flood: %d segments, EXTINF %v; gaps between segments appearing %v (worst %v)",
		len(segs.order), fmt.Sprint(segDurations(segs.order, segs.duration)), gaps, worst.Round(time.Millisecond))
	if worst > 4*time.Second {
		t.Errorf("a live segment appeared %v after the one before, want about 2 s (the ladder stalled)", worst.Round(time.Millisecond))
	}
	if got := cp.count(protocol.TypeHeartbeat) - beats; got < 2 {
		t.Errorf("%d heartbeats during the flood, want them to keep coming", got)
	}
}

func segDurations(order []string, d map[string]float64) []float64 {
	out := make([]float64, len(order))
	for i, n := range order {
		out[i] = d[n]
	}
	return out
}
