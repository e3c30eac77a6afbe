package relay

import (
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/hls"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestBlockingReloadCoalesced: many viewers held on the same playlist
// version (msn, part) make one upstream request, which carries the
// directives; another version is another request.
func TestBlockingReloadCoalesced(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var queries []string
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		if r.URL.Query().Get("_HLS_part") == "2" {
			<-release // the origin holds it until the part exists
		}
		w.Write([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART:DURATION=0.3,URI=\"p.m4s\"\n" + r.URL.RawQuery + "\n"))
	})
	r := newTestRelay(t, Config{})
	const viewers = 50
	q := hls.Query{MSN: 7, HasMSN: true, Part: 2, HasPart: true}
	var wg sync.WaitGroup
	errs := make(chan error, viewers)
	paths := make(chan string, viewers)
	for range viewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := r.FetchQuery(t.Context(), o.srv.URL, "pub", "720p/index.m3u8", q)
			errs <- err
			paths <- p
		}()
	}
	testutil.Eventually(t, 5*time.Second, "every viewer waiting on one request", func() bool {
		return r.Stats().CoalescedWaits == viewers-1
	})
	close(release)
	wg.Wait()
	close(errs)
	close(paths)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "_HLS_msn=7&_HLS_part=2") {
			t.Fatalf("viewer got %q, %v", b, err)
		}
	}
	if n := o.requests("/hls/pub/720p/index.m3u8"); n != 1 {
		t.Fatalf("%d upstream requests for one playlist version, want 1", n)
	}
	// The plain playlist and the next version are other objects.
	if _, err := r.Fetch(t.Context(), o.srv.URL, "pub", "720p/index.m3u8"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.FetchQuery(t.Context(), o.srv.URL, "pub", "720p/index.m3u8", hls.Query{MSN: 7, HasMSN: true, Part: 3, HasPart: true, Skip: true}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"_HLS_msn=7&_HLS_part=2", "", "_HLS_msn=7&_HLS_part=3&_HLS_skip=YES"}; strings.Join(queries, "|") != strings.Join(want, "|") {
		t.Fatalf("upstream queries %q, want %q", queries, want)
	}
	// Directives on anything but a playlist are refused.
	if _, err := r.FetchQuery(t.Context(), o.srv.URL, "pub", "720p/seg_00001.m4s", q); err == nil {
		t.Fatal("directives on a segment accepted")
	}
}
