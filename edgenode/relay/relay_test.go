package relay

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fakeOrigin answers /hls/... with what its handler says and counts
// requests by path.
type fakeOrigin struct {
	srv   *httptest.Server
	mu    sync.Mutex
	count map[string]int
}

func newFakeOrigin(t testing.TB, h http.HandlerFunc) *fakeOrigin {
	o := &fakeOrigin{count: map[string]int{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.count[r.URL.Path]++
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *fakeOrigin) requests(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count[path]
}

func newTestRelay(t testing.TB, cfg Config) *Relay {
	if cfg.CacheDir == "" {
		cfg.CacheDir = t.TempDir()
	}
	r := New(cfg)
	t.Cleanup(func() { r.Close() })
	return r
}

func TestFetchInvalidNames(t *testing.T) {
	a := newOriginEdge(t)
	parent := t.TempDir()
	cache := filepath.Join(parent, "cache")
	r := newTestRelay(t, Config{CacheDir: cache, AuthHeader: func() string { return clusterAuth }})
	cases := []struct{ pid, name string }{
		{"pub", "../sig/master.m3u8"},
		{"pub", "720p/../../x.m4s"},
		{"pub", "/etc/passwd.m3u8"},
		{"pub", "a/b/c.m4s"},
		{"pub", ".hidden.m3u8"},
		{"pub", "720p/seg.m4s.tmp"},
		{"pub", "720p%2F..%2Fseg.m4s"},
		{"pub", "720p\\..\\seg.m4s"},
		{"pub", ""},
		{"pub", "notes.txt"},
		{"..", "master.m3u8"},
		{"pub/..", "master.m3u8"},
		{"", "master.m3u8"},
	}
	for _, tc := range cases {
		p, err := r.Fetch(t.Context(), a.srv.URL, tc.pid, tc.name)
		if p != "" || !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Fetch(%q, %q) = %q, %v; want ErrNotFound", tc.pid, tc.name, p, err)
		}
	}
	if n := a.totalRequests(); n != 0 {
		t.Errorf("invalid names caused %d requests to the origin", n)
	}
	r.Purge("../")
	r.Purge("..")
	if des, _ := os.ReadDir(parent); len(des) > 1 {
		t.Errorf("files beside the cache: %v", des)
	}
}

func TestFetchStatuses(t *testing.T) {
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hls/s/missing.m4s":
			http.NotFound(w, r)
		case "/hls/s/forbidden.m4s":
			http.Error(w, "forbidden", http.StatusForbidden)
		case "/hls/s/broken.m4s":
			http.Error(w, "oops", http.StatusInternalServerError)
		case "/hls/s/moved.m4s":
			http.Redirect(w, r, "/hls/s/ok.m4s", http.StatusFound)
		default:
			w.Write([]byte("ok"))
		}
	})
	clock := newFakeClock()
	r := newTestRelay(t, Config{Now: clock.Now, AuthHeader: func() string { return "Bearer s3cret" }})
	cases := []struct {
		name    string
		want    error
		message string
	}{
		{"missing.m4s", ErrNotFound, "not found on the origin edge"},
		{"forbidden.m4s", ErrUpstream, "relay secret"},
		{"broken.m4s", ErrUpstream, "500 Internal Server Error"},
		{"moved.m4s", ErrUpstream, "302 Found"},
	}
	for _, tc := range cases {
		_, err := r.Fetch(t.Context(), o.srv.URL, "s", tc.name)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) || !strings.Contains(err.Error(), "s/"+tc.name) {
			t.Errorf("%s: %v; want %v saying %q", tc.name, err, tc.want, tc.message)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error reveals the secret: %v", tc.name, err)
		}
	}
	if s := r.Stats(); s.UpstreamErrors != 3 || s.Objects != 0 {
		t.Errorf("stats %+v", s)
	}
	// A failure is remembered briefly: viewers of a broken origin do not
	// each cause a request.
	for range 3 {
		r.Fetch(t.Context(), o.srv.URL, "s", "broken.m4s")
	}
	if n := o.requests("/hls/s/broken.m4s"); n != 1 {
		t.Errorf("broken.m4s asked %d times within errorTTL, want 1", n)
	}
	clock.Advance(errorTTL)
	r.Fetch(t.Context(), o.srv.URL, "s", "broken.m4s")
	if n := o.requests("/hls/s/broken.m4s"); n != 2 {
		t.Errorf("broken.m4s asked %d times after errorTTL, want 2", n)
	}
	if p, err := r.Fetch(t.Context(), o.srv.URL+"/", "s", "ok.m4s"); err != nil {
		t.Errorf("ok.m4s (base URL with a slash): %v", err)
	} else if b, _ := os.ReadFile(p); string(b) != "ok" {
		t.Errorf("ok.m4s: %q", b)
	}
	// An origin that is not there.
	_, err := r.Fetch(t.Context(), "http://127.0.0.1:1", "s", "x.m4s")
	if !errors.Is(err, ErrUpstream) {
		t.Errorf("no origin: %v", err)
	}
}

func TestFetchOversize(t *testing.T) {
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/hls/s/seg_"), ".m4s"))
		if strings.HasSuffix(r.URL.Path, "_chunked.m4s") {
			// No Content-Length: flushed before the handler returns.
			for range 4 {
				w.Write(make([]byte, 512))
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		if n <= 4096 { // a larger one is refused on its header
			w.Write(make([]byte, n))
		}
	})
	cache := t.TempDir()
	r := newTestRelay(t, Config{CacheDir: cache, MaxObjectBytes: 1024})
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"seg_1024.m4s", true},
		{"seg_1025.m4s", false},
		{"seg_99999999.m4s", false},
		{"seg_chunked.m4s", false},
	} {
		_, err := r.Fetch(t.Context(), o.srv.URL, "s", tc.name)
		if tc.ok != (err == nil) || (err != nil && (!errors.Is(err, ErrUpstream) || !strings.Contains(err.Error(), "limit"))) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if s := r.Stats(); s.Objects != 1 || s.Bytes != 1024 {
		t.Errorf("stats %+v, want the one 1024-byte object", s)
	}
	// Nothing half-written is left behind.
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) != "seg_1024.m4s" {
			t.Errorf("left in the cache: %s", p)
		}
		return nil
	})
}

// TestEviction keeps the cache within MaxCacheBytes, dropping the least
// recently used objects first.
func TestEviction(t *testing.T) {
	a := newOriginEdge(t)
	for range 2 {
		a.appendSegment("pub")
	}
	r := newTestRelay(t, Config{MaxCacheBytes: 3*segSize + segSize/2, AuthHeader: func() string { return clusterAuth }})
	fetch := func(i int) string {
		t.Helper()
		p, err := r.Fetch(t.Context(), a.srv.URL, "pub", segName(i))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	paths := []string{fetch(0), fetch(1), fetch(2)}
	fetch(0) // seg 0 is now more recent than seg 1
	paths = append(paths, fetch(3))
	s := r.Stats()
	if s.Objects != 3 || s.Bytes != 3*segSize || s.Evictions != 1 {
		t.Errorf("stats %+v, want 3 objects, %d bytes, 1 eviction", s, 3*segSize)
	}
	for i, p := range paths {
		_, err := os.Stat(p)
		if evicted := i == 1; evicted != errors.Is(err, fs.ErrNotExist) {
			t.Errorf("segment %d: stat %v, evicted %v", i, err, evicted)
		}
	}
	fetch(1)
	if n := a.requests("/hls/pub/" + segName(1)); n != 2 {
		t.Errorf("evicted segment fetched %d times, want 2", n)
	}
	if n := a.requests("/hls/pub/" + segName(0)); n != 1 {
		t.Errorf("recently used segment fetched %d times, want 1", n)
	}
}

func TestPurge(t *testing.T) {
	a := newOriginEdge(t)
	cache := t.TempDir()
	r := newTestRelay(t, Config{CacheDir: cache, AuthHeader: func() string { return clusterAuth }})
	for _, pid := range []string{"pub", "sig"} {
		for _, name := range []string{"720p/index.m3u8", segName(0)} {
			if _, err := r.Fetch(t.Context(), a.srv.URL, pid, name); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.Purge("pub")
	if s := r.Stats(); s.Objects != 2 {
		t.Errorf("after purge: %+v", s)
	}
	des, _ := os.ReadDir(cache)
	if len(des) != 1 || des[0].Name() != "objects" {
		t.Errorf("cache dir holds %v", des)
	}
	if _, err := os.Stat(filepath.Join(cache, "objects", "pub")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("purged stream's directory: %v", err)
	}
	if _, err := r.Fetch(t.Context(), a.srv.URL, "pub", segName(0)); err != nil {
		t.Fatal(err)
	}
	if n := a.requests("/hls/pub/" + segName(0)); n != 2 {
		t.Errorf("segment fetched %d times across a purge, want 2", n)
	}
	r.Purge("nothing-here")

	// A new relay on the same directory starts empty.
	r.Close()
	os.MkdirAll(filepath.Join(cache, purgePrefix+"7", "x"), 0o755)
	os.WriteFile(filepath.Join(cache, "keep.txt"), nil, 0o644)
	New(Config{CacheDir: cache}).Close()
	des, _ = os.ReadDir(cache)
	if len(des) != 1 || des[0].Name() != "keep.txt" {
		t.Errorf("after New the cache dir holds %v, want only the file it does not own", des)
	}
}

// TestPurgeDuringFetch: a fetch in flight when its stream is purged
// answers its waiters but leaves nothing cached.
func TestPurgeDuringFetch(t *testing.T) {
	a := newOriginEdge(t)
	r := newTestRelay(t, Config{AuthHeader: func() string { return clusterAuth }})
	path := "/hls/pub/" + segName(0)
	release := a.hold(path)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Fetch(context.Background(), a.srv.URL, "pub", segName(0))
		errc <- err
	}()
	testutil.Eventually(t, 5*time.Second, "the request at the origin", func() bool { return a.requests(path) == 1 })
	r.Purge("pub")
	release()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("fetch across a purge: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fetch did not return")
	}
	if s := r.Stats(); s.Objects != 0 || s.Bytes != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestWaiterLeaves: a caller whose context ends returns at once; the
// request carries on for the others.
func TestWaiterLeaves(t *testing.T) {
	a := newOriginEdge(t)
	r := newTestRelay(t, Config{AuthHeader: func() string { return clusterAuth }})
	path := "/hls/pub/" + segName(1)
	release := a.hold(path)
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := r.Fetch(ctx, a.srv.URL, "pub", segName(1))
		first <- err
	}()
	testutil.Eventually(t, 5*time.Second, "the request at the origin", func() bool { return a.requests(path) == 1 })
	second := make(chan error, 1)
	go func() {
		_, err := r.Fetch(context.Background(), a.srv.URL, "pub", segName(1))
		second <- err
	}()
	testutil.Eventually(t, 5*time.Second, "the second caller to wait", func() bool { return r.Stats().CoalescedWaits == 1 })
	cancel()
	select {
	case err := <-first:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled caller still waiting")
	}
	release()
	select {
	case err := <-second:
		if err != nil {
			t.Errorf("remaining caller: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("remaining caller still waiting")
	}
	if n := a.requests(path); n != 1 {
		t.Errorf("origin asked %d times", n)
	}
}

// TestClose cancels a request in flight and waits for it.
func TestClose(t *testing.T) {
	a := newOriginEdge(t)
	r := New(Config{CacheDir: t.TempDir(), AuthHeader: func() string { return clusterAuth }})
	path := "/hls/pub/" + segName(2)
	a.hold(path)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Fetch(context.Background(), a.srv.URL, "pub", segName(2))
		errc <- err
	}()
	testutil.Eventually(t, 5*time.Second, "the request at the origin", func() bool { return a.requests(path) == 1 })
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("fetch in flight at Close: %v", err)
	}
	if _, err := r.Fetch(t.Context(), a.srv.URL, "pub", segName(0)); !errors.Is(err, ErrUpstream) {
		t.Errorf("fetch after Close: %v", err)
	}
}

func TestPlaylistTTL(t *testing.T) {
	cases := []struct {
		pl   string
		want time.Duration
	}{
		{"#EXTM3U\n#EXT-X-TARGETDURATION:2\n", 500 * time.Millisecond},
		{"#EXTM3U\r\n#EXT-X-TARGETDURATION:1\r\n", 250 * time.Millisecond},
		{"#EXTM3U\n#EXT-X-TARGETDURATION:6\n", 1500 * time.Millisecond},
		{"#EXTM3U\n#EXT-X-TARGETDURATION:20\n", maxPlaylistTTL},
		{"#EXTM3U\n#EXT-X-TARGETDURATION:1e300\n", maxPlaylistTTL},
		{"#EXTM3U\n#EXT-X-TARGETDURATION:0.2\n", minPlaylistTTL},
		{"#EXTM3U\n#EXT-X-TARGETDURATION:0\n", minPlaylistTTL},
		{"#EXTM3U\n#EXT-X-TARGETDURATION:NaN\n", minPlaylistTTL},
		{"#EXTM3U\n#EXT-X-TARGETDURATION:-3\n", minPlaylistTTL},
		{"#EXTM3U\n#EXT-X-TARGETDURATION:", minPlaylistTTL},
		{"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n", masterPlaylistTTL},
		{"", masterPlaylistTTL},
	}
	for _, tc := range cases {
		if got := playlistTTL([]byte(tc.pl)); got != tc.want {
			t.Errorf("playlistTTL(%q) = %v, want %v", tc.pl, got, tc.want)
		}
	}
}

func FuzzPlaylistTTL(f *testing.F) {
	f.Add([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg.m4s\n"))
	f.Add([]byte("#EXT-X-TARGETDURATION:+Inf\r\n"))
	f.Fuzz(func(t *testing.T, pl []byte) {
		if got := playlistTTL(pl); got < minPlaylistTTL || got > maxPlaylistTTL {
			t.Errorf("playlistTTL = %v", got)
		}
	})
}

func TestTrustAuth(t *testing.T) {
	secret := ""
	trust := TrustAuth(func() string { return secret })
	req := func(auth string) *http.Request {
		r := httptest.NewRequest("GET", "/hls/s/master.m3u8", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	if trust(req("")) || trust(req("Bearer x")) {
		t.Error("trusted while no secret is set")
	}
	secret = "Bearer x"
	for auth, want := range map[string]bool{"Bearer x": true, "": false, "Bearer y": false, "Bearer x ": false, "bearer x": false, "Bearer xx": false} {
		if got := trust(req(auth)); got != want {
			t.Errorf("trust(%q) = %v, want %v", auth, got, want)
		}
	}
}

func TestValidObject(t *testing.T) {
	cases := []struct {
		pid, name string
		want      bool
	}{
		{"abc", "master.m3u8", true},
		{"abc", "720p/index.m3u8", true},
		{"abc", "720p/init_0.mp4", true},
		{"abc", "720p/seg_a1b2_00001.m4s", true},
		{"a", "b/master.m3u8", true},
		{"abc", "", false},
		{"abc", "720p/../master.m3u8", false},
		{"abc", "a/b/c.m4s", false},
		{"abc", "seg\x00.m4s", false},
		{"a/b", "master.m3u8", false},
		{strings.Repeat("a", 65), "master.m3u8", false},
	}
	for _, tc := range cases {
		if got := validObject(tc.pid, tc.name); got != tc.want {
			t.Errorf("validObject(%q, %q) = %v, want %v", tc.pid, tc.name, got, tc.want)
		}
	}
}
