package relay

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// clusterAuth is what edges of the test cluster show each other.
const clusterAuth = "Bearer cluster-relay-secret"

// segSize is the size of a test segment.
const segSize = 64 << 10

// originEdge is "edge A": a real hls.Origin over a directory where a fake
// ffmpeg writes a live stream, behind a handler that counts requests by
// path and can hold requests for a path until released.
type originEdge struct {
	t    testing.TB
	dir  string
	priv *ecdsa.PrivateKey
	keys token.Keys
	srv  *httptest.Server

	mu      sync.Mutex
	count   map[string]int
	auths   map[string]int // Authorization values seen
	queries []string       // non-empty raw queries seen
	held    map[string]chan struct{}
	segs    map[string]int // playback id -> segments written
}

func newOriginEdge(t testing.TB) *originEdge {
	t.Helper()
	priv, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	a := &originEdge{
		t: t, dir: t.TempDir(), priv: priv, keys: token.Keys{"k1": &priv.PublicKey},
		count: map[string]int{}, auths: map[string]int{}, held: map[string]chan struct{}{}, segs: map[string]int{},
	}
	origin := hls.NewOrigin(hls.Config{
		Resolver:     a,
		TrustRequest: TrustAuth(func() string { return clusterAuth }),
	})
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.count[r.URL.Path]++
		a.auths[r.Header.Get("Authorization")]++
		if r.URL.RawQuery != "" {
			a.queries = append(a.queries, r.URL.RawQuery)
		}
		hold := a.held[r.URL.Path]
		a.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		origin.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	for _, pid := range []string{"pub", "sig"} {
		a.write(pid, "master.m3u8", []byte("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"+
			"#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720\n720p/index.m3u8\n"))
		a.write(pid, "720p/init_s1.mp4", bytes.Repeat([]byte("init "+pid), 100))
		for range 3 {
			a.appendSegment(pid)
		}
	}
	return a
}

// Resolve serves "pub" (public) and "sig" (signed) from a.dir.
func (a *originEdge) Resolve(_ context.Context, pid string) (hls.Stream, bool) {
	if pid != "pub" && pid != "sig" {
		return hls.Stream{}, false
	}
	return hls.Stream{PlaybackID: pid, Signed: pid == "sig", Keys: a.keys, Dir: filepath.Join(a.dir, pid), Live: true}, true
}

// write puts a file in place as ffmpeg does: a temporary name, renamed.
func (a *originEdge) write(pid, name string, b []byte) {
	a.t.Helper()
	p := filepath.Join(a.dir, pid, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		a.t.Fatal(err)
	}
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		a.t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		a.t.Fatal(err)
	}
}

func segName(i int) string { return fmt.Sprintf("720p/seg_s1_%05d.m4s", i) }

// segData is the content of segment i of stream pid.
func segData(pid string, i int) []byte {
	b := make([]byte, segSize)
	for j := range b {
		b[j] = byte(j*31 + i*7 + len(pid))
	}
	return b
}

// appendSegment writes the stream's next segment and the EVENT playlist
// that lists it, and returns the segment's name.
func (a *originEdge) appendSegment(pid string) string {
	a.mu.Lock()
	n := a.segs[pid]
	a.segs[pid] = n + 1
	a.mu.Unlock()
	a.write(pid, segName(n), segData(pid, n))
	var pl strings.Builder
	pl.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n" +
		"#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init_s1.mp4\"\n")
	for i := 0; i <= n; i++ {
		fmt.Fprintf(&pl, "#EXTINF:1.000000,\n%s\n", strings.TrimPrefix(segName(i), "720p/"))
	}
	a.write(pid, "720p/index.m3u8", []byte(pl.String()))
	return segName(n)
}

// hold makes requests for path wait until the returned release is called
// (or the test ends).
func (a *originEdge) hold(path string) (release func()) {
	ch := make(chan struct{})
	a.mu.Lock()
	a.held[path] = ch
	a.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			a.mu.Lock()
			delete(a.held, path)
			a.mu.Unlock()
			close(ch)
		})
	}
	a.t.Cleanup(release)
	return release
}

func (a *originEdge) requests(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count[path]
}

func (a *originEdge) totalRequests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.count {
		n += c
	}
	return n
}

func (a *originEdge) sign(pid string) string {
	a.t.Helper()
	tok, err := token.Sign(a.priv, "k1", pid, time.Now().Add(time.Hour))
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// relayEdge is "edge B": an hls.Origin whose streams come from a Relay
// filling its cache from edge A.
type relayEdge struct {
	relay  *Relay
	origin *hls.Origin
	srv    *httptest.Server
	client *http.Client
}

func newRelayEdge(t testing.TB, a *originEdge, cfg Config) *relayEdge {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = t.TempDir()
	}
	if cfg.AuthHeader == nil {
		cfg.AuthHeader = func() string { return clusterAuth }
	}
	rl := New(cfg)
	t.Cleanup(func() { rl.Close() })
	b := &relayEdge{relay: rl}
	b.origin = hls.NewOrigin(hls.Config{Resolver: resolverFunc(func(_ context.Context, pid string) (hls.Stream, bool) {
		st, ok := a.Resolve(context.Background(), pid)
		if !ok {
			return st, false
		}
		st.Dir = ""
		st.Fetch = func(ctx context.Context, name string) (string, error) {
			return rl.Fetch(ctx, a.srv.URL, pid, name)
		}
		st.FetchQuery = func(ctx context.Context, name string, q hls.Query) (string, error) {
			return rl.FetchQuery(ctx, a.srv.URL, pid, name, q)
		}
		return st, true
	})})
	b.srv = httptest.NewServer(b.origin)
	t.Cleanup(b.srv.Close)
	b.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(b.client.CloseIdleConnections)
	return b
}

type resolverFunc func(context.Context, string) (hls.Stream, bool)

func (f resolverFunc) Resolve(ctx context.Context, pid string) (hls.Stream, bool) { return f(ctx, pid) }

// get fetches base+path as a viewer.
func get(t testing.TB, c *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
	}
	return resp.StatusCode, body
}

func TestRelaySameBytes(t *testing.T) {
	a := newOriginEdge(t)
	b := newRelayEdge(t, a, Config{})
	for _, name := range []string{"master.m3u8", "720p/index.m3u8", "720p/init_s1.mp4", segName(0), segName(2)} {
		wantCode, want := get(t, a.srv.Client(), a.srv.URL+"/hls/pub/"+name)
		for range 2 { // a miss, then a hit
			code, got := get(t, b.client, b.srv.URL+"/hls/pub/"+name)
			if code != http.StatusOK || wantCode != http.StatusOK || !bytes.Equal(got, want) {
				t.Errorf("%s: B %d (%d bytes), A %d (%d bytes)", name, code, len(got), wantCode, len(want))
			}
		}
	}
	if code, _ := get(t, b.client, b.srv.URL+"/hls/pub/"+segName(99)); code != http.StatusNotFound {
		t.Errorf("missing segment through B: %d, want 404", code)
	}
	if code, _ := get(t, b.client, b.srv.URL+"/hls/nobody/master.m3u8"); code != http.StatusNotFound {
		t.Errorf("unknown stream through B: %d, want 404", code)
	}
	if s := b.relay.Stats(); s.Hits < 4 || s.Objects != 5 {
		t.Errorf("stats %+v: want 5 objects cached and hits", s)
	}
}

// TestRelaySigned checks that B enforces the viewer's token before it
// fetches anything, and that B's requests to A carry the cluster
// credential, never the viewer's token.
func TestRelaySigned(t *testing.T) {
	a := newOriginEdge(t)
	b := newRelayEdge(t, a, Config{})
	for _, name := range []string{"master.m3u8", "720p/index.m3u8", segName(0)} {
		for _, q := range []string{"", "?token=garbage", "?token=" + a.sign("pub")} {
			if code, _ := get(t, b.client, b.srv.URL+"/hls/sig/"+name+q); code != http.StatusForbidden {
				t.Errorf("GET %s%s through B = %d, want 403", name, q, code)
			}
		}
	}
	if n := a.totalRequests(); n != 0 {
		t.Fatalf("refused viewers caused %d requests to A", n)
	}

	tok := a.sign("sig")
	code, master := get(t, b.client, b.srv.URL+"/hls/sig/master.m3u8?token="+tok)
	if code != http.StatusOK || !strings.Contains(string(master), "720p/index.m3u8?token="+tok) {
		t.Errorf("master through B: %d\n%s", code, master)
	}
	code, variant := get(t, b.client, b.srv.URL+"/hls/sig/720p/index.m3u8?token="+tok)
	raw, _ := os.ReadFile(filepath.Join(a.dir, "sig", "720p", "index.m3u8"))
	if want := hls.RewritePlaylist(raw, "token="+tok); code != http.StatusOK || !bytes.Equal(variant, want) {
		t.Errorf("variant through B: %d\n%s\nwant\n%s", code, variant, want)
	}
	for _, name := range []string{"720p/init_s1.mp4", segName(1)} {
		if code, _ := get(t, b.client, b.srv.URL+"/hls/sig/"+name+"?token="+tok); code != http.StatusOK {
			t.Errorf("GET %s with token through B = %d", name, code)
		}
	}
	a.mu.Lock()
	if len(a.auths) != 1 || a.auths[clusterAuth] != 4 || len(a.queries) != 0 {
		t.Errorf("A saw Authorization %v and queries %q; want only the cluster credential, 4 times, no queries", a.auths, a.queries)
	}
	a.mu.Unlock()

	// An edge with another secret is refused by A, and says why.
	wrong := newRelayEdge(t, a, Config{AuthHeader: func() string { return "Bearer another-secret" }})
	_, err := wrong.relay.Fetch(t.Context(), a.srv.URL, "sig", "720p/index.m3u8")
	if !errors.Is(err, ErrUpstream) || !strings.Contains(err.Error(), "relay secret") || strings.Contains(err.Error(), "another-secret") {
		t.Errorf("wrong secret: %v", err)
	}
	if code, _ := get(t, wrong.client, wrong.srv.URL+"/hls/sig/"+segName(2)+"?token="+tok); code != http.StatusBadGateway {
		t.Errorf("viewer of an edge with the wrong secret: %d, want 502", code)
	}
}

// TestRelayCoalescesSegment has 50 viewers ask B for a segment A has not
// answered yet: A serves it once.
func TestRelayCoalescesSegment(t *testing.T) {
	a := newOriginEdge(t)
	b := newRelayEdge(t, a, Config{})
	name := a.appendSegment("pub")
	path := "/hls/pub/" + name
	release := a.hold(path)

	const viewers = 50
	var wg sync.WaitGroup
	bodies := make([][]byte, viewers)
	codes := make([]int, viewers)
	for i := range viewers {
		wg.Go(func() { codes[i], bodies[i] = get(t, b.client, b.srv.URL+path) })
	}
	testutil.Eventually(t, 5*time.Second, "the viewers to wait on one request", func() bool {
		return b.relay.Stats().CoalescedWaits == viewers-1 && a.requests(path) == 1
	})
	release()
	wg.Wait()
	want := segData("pub", 3)
	for i := range viewers {
		if codes[i] != http.StatusOK || !bytes.Equal(bodies[i], want) {
			t.Fatalf("viewer %d: %d, %d bytes", i, codes[i], len(bodies[i]))
		}
	}
	if n := a.requests(path); n != 1 {
		t.Errorf("A served %s %d times, want 1", name, n)
	}
	if s := b.relay.Stats(); s.UpstreamRequests != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestRelayCoalescesPlaylistRefresh has 50 viewers ask for a playlist
// just after B's copy expired: A serves one refresh.
func TestRelayCoalescesPlaylistRefresh(t *testing.T) {
	a := newOriginEdge(t)
	clock := newFakeClock()
	b := newRelayEdge(t, a, Config{Now: clock.Now})
	path := "/hls/pub/720p/index.m3u8"
	if code, _ := get(t, b.client, b.srv.URL+path); code != http.StatusOK {
		t.Fatalf("prime: %d", code)
	}
	newest := a.appendSegment("pub")
	clock.Advance(time.Minute)
	release := a.hold(path)

	const viewers = 50
	var wg sync.WaitGroup
	bodies := make([][]byte, viewers)
	for i := range viewers {
		wg.Go(func() { _, bodies[i] = get(t, b.client, b.srv.URL+path) })
	}
	testutil.Eventually(t, 5*time.Second, "the viewers to wait on one refresh", func() bool {
		return b.relay.Stats().CoalescedWaits == viewers-1 && a.requests(path) == 2
	})
	release()
	wg.Wait()
	for i := range viewers {
		if !bytes.Contains(bodies[i], []byte(strings.TrimPrefix(newest, "720p/"))) {
			t.Fatalf("viewer %d got a playlist without %s:\n%s", i, newest, bodies[i])
		}
	}
	if n := a.requests(path); n != 2 {
		t.Errorf("A served the playlist %d times, want 2 (prime and one refresh)", n)
	}
}

// TestRelayPlaylistFreshness checks that a segment A adds shows in B's
// playlist within the playlist's lifetime (a quarter of the 1 s target
// duration) and a margin.
func TestRelayPlaylistFreshness(t *testing.T) {
	a := newOriginEdge(t)
	b := newRelayEdge(t, a, Config{})
	url := b.srv.URL + "/hls/pub/720p/index.m3u8"
	for range 3 { // a miss, then hits
		if code, _ := get(t, b.client, url); code != http.StatusOK {
			t.Fatalf("prime: %d", code)
		}
	}
	for range 2 {
		name := a.appendSegment("pub")
		added := time.Now()
		testutil.Eventually(t, 3*time.Second, "the new segment in B's playlist", func() bool {
			_, pl := get(t, b.client, url)
			return bytes.Contains(pl, []byte(strings.TrimPrefix(name, "720p/")))
		})
		// Idle, about the 250 ms refresh; logged, since a busy machine
		// stretches it (the 3 s bound above is the test's).
		t.Logf("new segment showed after %v", time.Since(added).Round(time.Millisecond))
		if code, _ := get(t, b.client, b.srv.URL+"/hls/pub/"+name); code != http.StatusOK {
			t.Errorf("new segment through B: %d", code)
		}
	}
}

// TestRelayOriginDeath stops A: within a few seconds B's playlist
// requests fail, and keep failing, instead of serving the last copy.
func TestRelayOriginDeath(t *testing.T) {
	a := newOriginEdge(t)
	b := newRelayEdge(t, a, Config{})
	url := b.srv.URL + "/hls/pub/720p/index.m3u8"
	if code, _ := get(t, b.client, url); code != http.StatusOK {
		t.Fatalf("prime: %d", code)
	}
	if code, _ := get(t, b.client, b.srv.URL+"/hls/pub/"+segName(0)); code != http.StatusOK {
		t.Fatalf("prime segment: %d", code)
	}
	a.srv.Close()
	stopped := time.Now()
	testutil.Eventually(t, 3*time.Second, "B's playlist to fail", func() bool {
		code, _ := get(t, b.client, url)
		return code != http.StatusOK
	})
	if d := time.Since(stopped); d > 1500*time.Millisecond {
		t.Errorf("B served the playlist for %v after A stopped", d)
	}
	for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if code, _ := get(t, b.client, url); code != http.StatusBadGateway {
			t.Fatalf("playlist after A stopped: %d, want 502", code)
		}
	}
	// What was fetched stays valid: segments never change.
	if code, _ := get(t, b.client, b.srv.URL+"/hls/pub/"+segName(0)); code != http.StatusOK {
		t.Errorf("cached segment after A stopped: %d", code)
	}
	if s := b.relay.Stats(); s.UpstreamErrors == 0 {
		t.Errorf("stats %+v: no upstream errors", s)
	}
}

// TestRelayOriginHangs has A accept and never answer the playlist: B's
// viewers get an error after the playlist timeout, not the old copy.
func TestRelayOriginHangs(t *testing.T) {
	a := newOriginEdge(t)
	clock := newFakeClock()
	b := newRelayEdge(t, a, Config{Now: clock.Now, PlaylistTimeout: 200 * time.Millisecond})
	url := b.srv.URL + "/hls/pub/720p/index.m3u8"
	if code, _ := get(t, b.client, url); code != http.StatusOK {
		t.Fatalf("prime: %d", code)
	}
	a.hold("/hls/pub/720p/index.m3u8")
	clock.Advance(time.Minute)
	start := time.Now()
	if code, _ := get(t, b.client, url); code != http.StatusBadGateway {
		t.Errorf("playlist while A hangs: %d, want 502", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("viewer waited %v", d)
	}
}
