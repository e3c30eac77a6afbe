package relay

import (
	"fmt"
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

// llPlaylist is a low-latency media playlist: segments 0..last complete,
// parts parts of segment last+1 and the hint for the next one.
func llPlaylist(last, parts int) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n" +
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002,CAN-SKIP-UNTIL=6\n" +
		"#EXT-X-PART-INF:PART-TARGET=0.334\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init_s1.mp4\"\n")
	for i := 0; i <= last; i++ {
		fmt.Fprintf(&b, "#EXTINF:1.00000,\nseg_s1_%05d.m4s\n", i)
	}
	for j := 0; j < parts; j++ {
		fmt.Fprintf(&b, "#EXT-X-PART:DURATION=0.33333,URI=\"part_s1_%05d_%d.m4s\"\n", last+1, j)
	}
	fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_s1_%05d_%d.m4s\"\n", last+1, parts)
	return []byte(b.String())
}

// TestRelayLowLatency: viewers of edge B held on the next part of a
// signed LL-HLS stream of edge A (a blocking reload, then the hinted
// part) cost A one request each, and each viewer's playlist carries its
// token in the part and hint URIs.
func TestRelayLowLatency(t *testing.T) {
	t.Parallel()
	a := newOriginEdge(t)
	b := newRelayEdge(t, a, Config{})
	a.write("sig", "720p/index.m3u8", llPlaylist(2, 1))
	tok := a.sign("sig")
	const viewers = 30
	pl := "/hls/sig/720p/index.m3u8"
	part := "/hls/sig/720p/part_s1_00003_1.m4s"

	codes := make([]int, viewers)
	bodies := make([][]byte, viewers)
	var wg sync.WaitGroup
	for i := range viewers {
		wg.Go(func() {
			codes[i], bodies[i] = get(t, b.client, b.srv.URL+pl+"?_HLS_msn=3&_HLS_part=1&token="+tok)
		})
	}
	testutil.Eventually(t, 5*time.Second, "the viewers held on one upstream request", func() bool {
		return b.relay.Stats().CoalescedWaits == viewers-1 && a.requests(pl) == 1
	})
	a.write("sig", "720p/part_s1_00003_1.m4s", []byte("part 3.1"))
	a.write("sig", "720p/index.m3u8", llPlaylist(2, 2))
	wg.Wait()
	for i := range viewers {
		if codes[i] != http.StatusOK || !strings.Contains(string(bodies[i]), `URI="part_s1_00003_1.m4s?token=`+tok+`"`) ||
			!strings.Contains(string(bodies[i]), `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_s1_00003_2.m4s?token=`+tok+`"`) {
			t.Fatalf("viewer %d: %d\n%s", i, codes[i], bodies[i])
		}
	}
	if n := a.requests(pl); n != 1 {
		t.Fatalf("A served %d blocking reloads for one playlist version", n)
	}

	// The hinted part, asked before it exists: A holds the one request.
	before := b.relay.Stats().CoalescedWaits
	hint := "/hls/sig/720p/part_s1_00003_2.m4s"
	for i := range viewers {
		wg.Go(func() { codes[i], bodies[i] = get(t, b.client, b.srv.URL+hint+"?token="+tok) })
	}
	testutil.Eventually(t, 5*time.Second, "the viewers held on the hinted part", func() bool {
		return b.relay.Stats().CoalescedWaits == before+viewers-1 && a.requests(hint) == 1
	})
	a.write("sig", "720p/part_s1_00003_2.m4s", []byte("part 3.2"))
	wg.Wait()
	for i := range viewers {
		if codes[i] != http.StatusOK || string(bodies[i]) != "part 3.2" {
			t.Fatalf("viewer %d: %d %q", i, codes[i], bodies[i])
		}
	}
	if n := a.requests(hint); n != 1 {
		t.Fatalf("A served the hinted part %d times", n)
	}
	if n := a.requests(part); n != 0 {
		t.Fatalf("A served part 3.1 %d times; nobody asked", n)
	}
	// Without a token B holds nothing and asks A nothing.
	if code, _ := get(t, b.client, b.srv.URL+pl+"?_HLS_msn=9"); code != http.StatusForbidden {
		t.Fatalf("blocking reload without a token: %d", code)
	}
}

// TestBlockingVersionsDropped: a viewer following a playlist part by part
// leaves at most the unexpired versions in the cache, not one file per
// part of the session.
func TestBlockingVersionsDropped(t *testing.T) {
	t.Parallel()
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + r.URL.RawQuery + "\n"))
	})
	clock := newFakeClock()
	r := newTestRelay(t, Config{Now: clock.Now})
	var paths []string
	for part := range 20 {
		p, err := r.FetchQuery(t.Context(), o.srv.URL, "pub", "720p/index.m3u8", hls.Query{MSN: 4, HasMSN: true, Part: part, HasPart: true})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		clock.Advance(time.Second) // past a playlist's lifetime
	}
	if s := r.Stats(); s.Objects > 2 {
		t.Fatalf("%d objects cached after following 20 versions", s.Objects)
	}
	for _, p := range paths[:len(paths)-2] {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("an expired version is still on disk: %s", p)
		}
	}
	r.Purge("pub")
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.versions) != 0 {
		t.Fatalf("versions after a purge: %v", r.versions)
	}
}
