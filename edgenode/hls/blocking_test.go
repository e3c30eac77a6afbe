package hls

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
	"github.com/livestreams/livestreams/shared/token"
)

// llPlaylist is a low-latency media playlist with segments first..last
// complete (1 s each, three parts listed for the last two) and parts
// parts of segment last+1.
func llPlaylist(first, last, parts int) string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n")
	b.WriteString("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.00200,CAN-SKIP-UNTIL=6\n")
	b.WriteString("#EXT-X-PART-INF:PART-TARGET=0.33400\n")
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init_t.mp4\"\n", first)
	writeParts := func(msn, n int) {
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "#EXT-X-PART:DURATION=0.33333,URI=\"part_t_%05d_%d.m4s\"", msn, i)
			if i == 0 {
				b.WriteString(",INDEPENDENT=YES")
			}
			b.WriteByte('\n')
		}
	}
	for msn := first; msn <= last; msn++ {
		if msn >= last-1 {
			writeParts(msn, 3)
		}
		fmt.Fprintf(&b, "#EXTINF:1.00000,\nseg_t_%05d.m4s\n", msn)
	}
	writeParts(last+1, parts)
	fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_t_%05d_%d.m4s\"\n", last+1, parts)
	fmt.Fprintf(&b, "#EXT-X-RENDITION-REPORT:URI=\"../480p/index.m3u8\",LAST-MSN=%d,LAST-PART=%d\n", last+1, max(parts-1, 0))
	return b.String()
}

// llFixture is a signed and a public low-latency stream whose playlist
// the test rewrites, with a Changed hook that counts waiters.
type llFixture struct {
	origin  *Origin
	dir     string
	tok     string
	mu      sync.Mutex
	changed chan struct{}
	calls   atomic.Int64
}

func newLLFixture(t *testing.T) *llFixture {
	t.Helper()
	f := &llFixture{dir: t.TempDir(), changed: make(chan struct{})}
	priv, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if f.tok, err = token.Sign(priv, "k1", "sig", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	onChange := func() <-chan struct{} {
		f.calls.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.changed
	}
	res := mapResolver{
		"pub": {PlaybackID: "pub", Dir: f.dir, Live: true, Changed: onChange},
		"sig": {PlaybackID: "sig", Dir: f.dir, Live: true, Changed: onChange, Signed: true, Keys: token.Keys{"k1": &priv.PublicKey}},
	}
	f.origin = NewOrigin(Config{Resolver: res, Now: func() time.Time { return now }, Logger: testutil.Logger(t)})
	f.write(t, "720p/index.m3u8", llPlaylist(0, 9, 1))
	return f
}

func (f *llFixture) write(t *testing.T, name, body string) {
	t.Helper()
	p := filepath.Join(f.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".tmp", []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func (f *llFixture) get(ctx context.Context, target string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", target, nil).WithContext(ctx)
	w := httptest.NewRecorder()
	f.origin.ServeHTTP(w, r)
	return w
}

// held starts target in the background and returns once the origin is
// holding it (it has looked at the playlist and asked for the next change).
func (f *llFixture) held(t *testing.T, target string) <-chan *httptest.ResponseRecorder {
	t.Helper()
	before := f.calls.Load()
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() { out <- f.get(t.Context(), target) }()
	testutil.Eventually(t, 5*time.Second, "the request to be held", func() bool { return f.calls.Load() >= before+2 })
	select {
	case w := <-out:
		t.Fatalf("%s answered at once: %d %s", target, w.Code, w.Body)
	default:
	}
	return out
}

func TestBlockingReload(t *testing.T) {
	t.Parallel()
	f := newLLFixture(t)
	// Satisfied already: answered at once.
	for _, q := range []string{"_HLS_msn=9", "_HLS_msn=10&_HLS_part=0", "_HLS_msn=3&_HLS_part=7", "_HLS_skip=YES"} {
		if w := f.get(t.Context(), "/hls/pub/720p/index.m3u8?"+q); w.Code != http.StatusOK {
			t.Fatalf("%s: %d", q, w.Code)
		}
	}
	// Far ahead: 400 at once (RFC 8216bis 6.2.5.2).
	for _, q := range []string{"_HLS_msn=12", "_HLS_msn=10&_HLS_part=4", "_HLS_part=1", "_HLS_msn=x", "_HLS_skip=NO"} {
		if w := f.get(t.Context(), "/hls/pub/720p/index.m3u8?"+q); w.Code != http.StatusBadRequest {
			t.Fatalf("%s: %d, want 400", q, w.Code)
		}
	}

	// The next part: held until the playlist lists it.
	out := f.held(t, "/hls/pub/720p/index.m3u8?_HLS_msn=10&_HLS_part=1")
	f.write(t, "720p/index.m3u8", llPlaylist(0, 9, 2))
	if w := <-out; w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "part_t_00010_1.m4s\"\n") {
		t.Fatalf("held part: %d\n%s", w.Code, w.Body)
	}
	// The next segment: held through a part that is not it.
	out = f.held(t, "/hls/pub/720p/index.m3u8?_HLS_msn=10")
	f.write(t, "720p/index.m3u8", llPlaylist(0, 9, 3))
	testutil.Eventually(t, 5*time.Second, "the request held again", func() bool { return len(out) == 0 && f.calls.Load() > 0 })
	f.write(t, "720p/index.m3u8", llPlaylist(1, 10, 0))
	if w := <-out; w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "seg_t_00010.m4s") {
		t.Fatalf("held segment: %d\n%s", w.Code, w.Body)
	}

	// Nothing comes: 503 after three target durations.
	w := f.get(t.Context(), "/hls/pub/720p/index.m3u8?_HLS_msn=11&_HLS_part=2")
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("never satisfied: %d", w.Code)
	}
	// The viewer leaves: the wait ends with its context.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.get(ctx, "/hls/pub/720p/index.m3u8?_HLS_msn=11&_HLS_part=2"); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("held request outlived its context")
	}
}

func TestPreloadHintHeld(t *testing.T) {
	t.Parallel()
	f := newLLFixture(t)
	before := f.calls.Load()
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() { out <- f.get(t.Context(), "/hls/sig/720p/part_t_00010_1.m4s?token="+f.tok) }()
	testutil.Eventually(t, 5*time.Second, "the part request to be held", func() bool { return f.calls.Load() >= before+2 })
	if err := os.WriteFile(filepath.Join(f.dir, "720p", "part_t_00010_1.m4s"), []byte("part"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.write(t, "720p/index.m3u8", llPlaylist(0, 9, 2))
	if w := <-out; w.Code != http.StatusOK || w.Body.String() != "part" {
		t.Fatalf("hinted part: %d %q", w.Code, w.Body)
	}
	// Without a token nothing is held or served.
	if w := f.get(t.Context(), "/hls/sig/720p/part_t_00010_1.m4s"); w.Code != http.StatusForbidden {
		t.Fatalf("part without a token: %d", w.Code)
	}
}

func TestSignedPartsAndHints(t *testing.T) {
	t.Parallel()
	f := newLLFixture(t)
	w := f.get(t.Context(), "/hls/sig/720p/index.m3u8?_HLS_msn=10&_HLS_part=0&token="+f.tok)
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var parts, hints, reports int
	for _, line := range strings.Split(w.Body.String(), "\n") {
		tag, _, _ := strings.Cut(line, ":")
		switch tag {
		case "#EXT-X-PART", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT", "#EXT-X-MAP":
			if !strings.Contains(line, ".m4s?token="+f.tok+"\"") && !strings.Contains(line, ".m3u8?token="+f.tok+"\"") &&
				!strings.Contains(line, ".mp4?token="+f.tok+"\"") {
				t.Errorf("URI without the token: %s", line)
			}
			parts += boolN(tag == "#EXT-X-PART")
			hints += boolN(tag == "#EXT-X-PRELOAD-HINT")
			reports += boolN(tag == "#EXT-X-RENDITION-REPORT")
		}
	}
	if parts != 7 || hints != 1 || reports != 1 {
		t.Fatalf("%d parts, %d hints, %d reports", parts, hints, reports)
	}
}

func boolN(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestDelta(t *testing.T) {
	t.Parallel()
	full := []byte(llPlaylist(100, 119, 2)) // 20 segments of 1 s, skip until 6 s
	d := Delta(full)
	st, _ := readState(d)
	fst, _ := readState(full)
	if st.lastMSN != fst.lastMSN || st.nextParts != fst.nextParts {
		t.Fatalf("delta changed the state: %+v vs %+v", st, fst)
	}
	if !strings.Contains(string(d), "#EXT-X-SKIP:SKIPPED-SEGMENTS=14\n") || strings.Contains(string(d), "seg_t_00113.m4s") ||
		!strings.Contains(string(d), "#EXT-X-MAP:URI=\"init_t.mp4\"\n#EXT-X-SKIP") || !strings.Contains(string(d), "#EXTINF:1.00000,\nseg_t_00114.m4s") {
		t.Fatalf("delta:\n%s", d)
	}
	// Nothing old enough, or a playlist that cannot skip: unchanged.
	for _, pl := range []string{llPlaylist(0, 4, 1), "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.m4s\n"} {
		if got := Delta([]byte(pl)); string(got) != pl {
			t.Fatalf("delta of a short playlist:\n%s", got)
		}
	}
	// Over HTTP.
	f := newLLFixture(t)
	f.write(t, "720p/index.m3u8", string(full))
	w := f.get(t.Context(), "/hls/pub/720p/index.m3u8?_HLS_msn=120&_HLS_part=1&_HLS_skip=YES")
	if w.Code != http.StatusOK || w.Body.String() != string(d) {
		t.Fatalf("delta over http: %d\n%s", w.Code, w.Body)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "_HLS_msn=1", "_HLS_msn=10&_HLS_part=2&_HLS_skip=YES", "_HLS_part=1", "_HLS_skip=v2&token=a.b",
		"_HLS_msn=-1", "_HLS_msn=99999999999", "&&=&_HLS_msn="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseQuery(raw)
		if err != nil {
			return
		}
		if q.HasPart && !q.HasMSN || q.MSN < 0 || q.Part < 0 {
			t.Fatalf("%q parsed as %+v", raw, q)
		}
		again, err := ParseQuery(q.Encode())
		if err != nil || again != q {
			t.Fatalf("%q: %+v encodes as %q, parsed back as %+v, %v", raw, q, q.Encode(), again, err)
		}
	})
}

func FuzzDelta(f *testing.F) {
	f.Add([]byte(llPlaylist(5, 30, 2)))
	f.Add([]byte(llPlaylist(0, 3, 0)))
	f.Add([]byte("#EXTM3U\n#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=1\n#EXT-X-TARGETDURATION:1\n#EXTINF:5,\na\n#EXTINF:x\nb\n"))
	f.Fuzz(func(t *testing.T, pl []byte) {
		d := Delta(pl)
		before, ok1 := readState(pl)
		after, ok2 := readState(d)
		if ok1 != ok2 || before.nextParts != after.nextParts || before.ended != after.ended {
			t.Fatalf("delta changed the playlist's state: %+v -> %+v", before, after)
		}
	})
}
