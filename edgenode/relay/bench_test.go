package relay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/livestreams/livestreams/shared/testutil"
)

// BenchmarkRelayHit serves a cached 64 KiB segment through edge B's
// origin: the relay's lookup, the open and the copy.
func BenchmarkRelayHit(b *testing.B) {
	a := newOriginEdge(b)
	e := newRelayEdge(b, a, Config{})
	r := httptest.NewRequest("GET", "/hls/pub/"+segName(0), nil)
	w := &testutil.DiscardWriter{}
	e.origin.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("prime: %d", w.Code)
	}
	b.ReportAllocs()
	b.SetBytes(segSize)
	for b.Loop() {
		w.Reset()
		e.origin.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
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
