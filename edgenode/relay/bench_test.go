package relay

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the relay and the origin rather than a recorder's buffer.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header                 { return d.h }
func (d *discardWriter) WriteHeader(code int)                { d.code = code }
func (d *discardWriter) Write(p []byte) (int, error)         { return len(p), nil }
func (d *discardWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

// BenchmarkRelayHit serves a cached 64 KiB segment through edge B's
// origin: the relay's lookup, the open and the copy.
func BenchmarkRelayHit(b *testing.B) {
	a := newOriginEdge(b)
	e := newRelayEdge(b, a, Config{})
	r := httptest.NewRequest("GET", "/hls/pub/"+segName(0), nil)
	w := &discardWriter{h: http.Header{}}
	e.origin.ServeHTTP(w, r)
	if w.code != http.StatusOK {
		b.Fatalf("prime: %d", w.code)
	}
	b.ReportAllocs()
	b.SetBytes(segSize)
	for b.Loop() {
		clear(w.h)
		w.code = 0
		e.origin.ServeHTTP(w, r)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
	if n := a.requests("/hls/pub/" + segName(0)); n != 1 {
		b.Fatalf("origin asked %d times", n)
	}
}

// BenchmarkRelayMissCoalesced has 8 callers miss on a new segment at once,
// each iteration: one upstream request, written to the cache, shared.
func BenchmarkRelayMissCoalesced(b *testing.B) {
	seg := make([]byte, segSize)
	o := newFakeOrigin(b, func(w http.ResponseWriter, r *http.Request) { w.Write(seg) })
	r := newTestRelay(b, Config{MaxCacheBytes: 64 * segSize})
	const callers = 8
	b.ReportAllocs()
	b.SetBytes(segSize)
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("720p/seg_%08d.m4s", i)
		i++
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				if _, err := r.Fetch(context.Background(), o.srv.URL, "bench", name); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	s := r.Stats()
	b.ReportMetric(float64(s.UpstreamRequests)/float64(i), "upstream/op")
}
