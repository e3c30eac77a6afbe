package hls_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/hls"
	"github.com/livestreams/livestreams/shared/testutil"
	"github.com/livestreams/livestreams/shared/token"
)

// liveRung is one rendition the fake live stream writes.
type liveRung struct {
	name string
	kbps int
}

// liveWriter plays ffmpeg's part for the viewers benchmark: every segment
// duration it writes one new segment per rung (random bytes at the rung's
// bitrate) and the media playlists listing the latest window of them, each
// under a temporary name renamed into place as -hls_flags temp_file does.
type liveWriter struct {
	dir    string
	rungs  []liveRung
	seg    time.Duration
	window int // segments listed
	tag    string
	bodies map[string][]byte
	next   int // the next segment's number
}

func newLiveWriter(dir string, rungs []liveRung, seg time.Duration, window int) (*liveWriter, error) {
	w := &liveWriter{dir: dir, rungs: rungs, seg: seg, window: window, tag: "s1", bodies: map[string][]byte{},
		// A stream that has been live for a while: the playlist is full
		// (only the segments written during the run exist on disk; a
		// viewer joins at the live edge and never asks for older ones).
		next: window}
	for _, r := range rungs {
		if err := os.MkdirAll(filepath.Join(dir, r.name), 0o755); err != nil {
			return nil, err
		}
		body := make([]byte, r.kbps*1000/8*int(seg/time.Second))
		rand.Read(body)
		w.bodies[r.name] = body
		if err := os.WriteFile(filepath.Join(dir, r.name, "init_"+w.tag+"_"+r.name+".mp4"), body[:800], 0o644); err != nil {
			return nil, err
		}
	}
	// Three segments to join with.
	for range 3 {
		if err := w.step(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *liveWriter) run(ctx context.Context) error {
	t := time.NewTicker(w.seg)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := w.step(); err != nil {
				return err
			}
		}
	}
}

func (w *liveWriter) step() error {
	n := w.next
	w.next++
	for _, r := range w.rungs {
		d := filepath.Join(w.dir, r.name)
		if err := writeRenamed(filepath.Join(d, fmt.Sprintf("seg_%s_%05d.m4s", w.tag, n)), w.bodies[r.name]); err != nil {
			return err
		}
		var pl strings.Builder
		first := max(n-w.window+1, 0)
		fmt.Fprintf(&pl, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init_%s_%s.mp4\"\n",
			int(w.seg/time.Second), first, w.tag, r.name)
		for i := first; i <= n; i++ {
			fmt.Fprintf(&pl, "#EXTINF:%.6f,\nseg_%s_%05d.m4s\n", w.seg.Seconds(), w.tag, i)
		}
		if err := writeRenamed(filepath.Join(d, "index.m3u8"), []byte(pl.String())); err != nil {
			return err
		}
	}
	return nil
}

func writeRenamed(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// BenchmarkLiveViewers has 2,000 viewers play one signed live stream from
// one edge origin, like players: each joins three segments from the live
// edge, reloads its media playlist every target duration and fetches each
// new segment (a third of them on each of 720p, 480p and 360p, 2 s
// segments at 3000/1400/800 kbit/s, a full 5-minute window of 150 entries
// in each playlist, rewritten with the viewer's token). The same load,
// from the same separate load-generator process, then plays the same
// files from nginx (static, no token check, playlists as written), the
// anchor. It prints the server's CPU (cores busy on average), segment
// latency (time to the whole body) at p50/p99, and errors.
func BenchmarkLiveViewers(b *testing.B) {
	const (
		viewers = 2000
		seg     = 2 * time.Second
		window  = 150
		d       = 30 * time.Second
	)
	root := b.TempDir()
	dir := filepath.Join(root, "hls", "pid1")
	rungs := []liveRung{{"720p", 3000}, {"480p", 1400}, {"360p", 800}}
	lw, err := newLiveWriter(dir, rungs, seg, window)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		writeErr = lw.run(ctx)
	}()
	defer func() {
		cancel()
		wg.Wait()
		if writeErr != nil {
			b.Error(writeErr)
		}
	}()

	priv, err := token.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	tok, err := token.Sign(priv, "k1", "pid1", time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	origin := hls.NewOrigin(hls.Config{Resolver: oneStream{hls.Stream{PlaybackID: "pid1", Signed: true,
		Keys: token.Keys{"k1": &priv.PublicKey}, Dir: dir, Live: true}}})
	ours := testutil.FreeAddr(b)
	srv := &http.Server{Addr: ours, Handler: origin}
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv.ListenAndServe()
	}()
	defer srv.Close()
	waitListening(b, ours)
	ngx, ngxPID := startNginx(b, root)

	urls := func(host, query string) []string {
		var out []string
		for _, r := range rungs {
			out = append(out, "http://"+host+"/hls/pid1/"+r.name+"/index.m3u8"+query)
		}
		return out
	}
	spec := loadSpec{Mode: "viewers", Conc: viewers, Duration: d, Ramp: seg}
	for i := 0; i < b.N; i++ {
		spec.URLs = urls(ours, "?token="+tok)
		cpu0 := processCPU()
		edge := runLoad(b, spec)
		edgeCPU := processCPU() - cpu0

		spec.URLs = urls(ngx, "")
		cpu0 = treeCPU(ngxPID)
		ngxRes := runLoad(b, spec)
		ngxCPU := treeCPU(ngxPID) - cpu0

		for _, r := range []struct {
			name string
			res  loadResult
			cpu  time.Duration
		}{{"edge", edge, edgeCPU}, {"nginx", ngxRes, ngxCPU}} {
			cores := r.cpu.Seconds() / r.res.Elapsed.Seconds()
			b.ReportMetric(cores, r.name+"-cores")
			b.ReportMetric(float64(r.res.P99.Milliseconds()), r.name+"-p99-ms")
			b.ReportMetric(float64(r.res.Errors), r.name+"-errors")
			fmt.Printf("FIGURE %d live viewers, %s: server CPU %.2f cores | segments %d (%.0f/s, %.0f MB/s) | segment latency p50 %v p99 %v max %v | errors %d %s | load generator CPU %.2f cores\n",
				viewers, r.name, cores, r.res.Segments, float64(r.res.Segments)/r.res.Elapsed.Seconds(),
				float64(r.res.Bytes)/r.res.Elapsed.Seconds()/1e6, r.res.P50.Round(time.Millisecond), r.res.P99.Round(time.Millisecond),
				r.res.Max.Round(time.Millisecond), r.res.Errors, r.res.FirstError, r.res.ClientCPU.Seconds()/r.res.Elapsed.Seconds())
		}
	}
}
