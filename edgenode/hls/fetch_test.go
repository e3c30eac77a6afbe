package hls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fetchLog records the names a Stream.Fetch was asked for.
type fetchLog struct {
	mu    sync.Mutex
	names []string
}

func (l *fetchLog) add(name string) {
	l.mu.Lock()
	l.names = append(l.names, name)
	l.mu.Unlock()
}

func (l *fetchLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.names)
}

// fetchFixture turns the fixture's streams into fetched ones: no Dir, a
// Fetch that returns the path of the file the local stream would serve.
func fetchFixture(t *testing.T) (*fixture, *Origin, *fetchLog) {
	f := newFixture(t)
	calls := &fetchLog{}
	res := mapResolver{}
	for pid, st := range f.res {
		dir := st.Dir
		st.Dir = ""
		st.Fetch = func(_ context.Context, name string) (string, error) {
			calls.add(name)
			switch name {
			case "720p/seg_00007.m4s":
				return "", fmt.Errorf("relay: %w", fs.ErrNotExist)
			case "720p/seg_00008.m4s":
				return "", errors.New("relay: origin refused connection")
			}
			return filepath.Join(dir, filepath.FromSlash(name)), nil
		}
		res[pid] = st
	}
	return f, NewOrigin(Config{Resolver: res, Now: func() time.Time { return now }}), calls
}

// TestFetchServesLikeLocal checks that a stream whose objects come from
// Fetch is served with the same bytes, headers and token rules as one on
// disk.
func TestFetchServesLikeLocal(t *testing.T) {
	f, fetched, _ := fetchFixture(t)
	tok := "?token=" + f.sign(t, "k1", "sig", now.Add(time.Hour))
	for _, target := range []string{
		"/hls/pub/master.m3u8", "/hls/pub/720p/index.m3u8", "/hls/pub/720p/init_0.mp4", "/hls/pub/720p/seg_00000.m4s",
		"/hls/pub/legacy.ts", "/hls/pub/subs/en.vtt", "/hls/pub/thumb.jpg",
		"/hls/sig/master.m3u8" + tok, "/hls/sig/720p/index.m3u8" + tok, "/hls/sig/720p/seg_00000.m4s" + tok,
		"/hls/sig/master.m3u8", "/hls/pub/720p/seg_00009.m4s", "/hls/pub/dir.m4s", "/hls/pub/720p/../master.m3u8",
	} {
		for _, method := range []string{"GET", "HEAD"} {
			want := f.do(method, target)
			got := serve(fetched, method, target)
			if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Errorf("%s %s: %d (%d bytes), local %d (%d bytes)", method, target, got.Code, got.Body.Len(), want.Code, want.Body.Len())
			}
			for _, k := range []string{"Content-Type", "Cache-Control", "Content-Length", "Access-Control-Allow-Origin", "X-Content-Type-Options"} {
				if got.Header().Get(k) != want.Header().Get(k) {
					t.Errorf("%s %s: %s %q, local %q", method, target, k, got.Header().Get(k), want.Header().Get(k))
				}
			}
		}
	}
	if w := serve(fetched, "GET", "/hls/sig/720p/seg_00000.m4s"+tok, "Range", "bytes=10-19"); w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), f.seg[10:20]) {
		t.Errorf("range: %d", w.Code)
	}
}

func TestFetchNotCalledWithoutToken(t *testing.T) {
	f, fetched, calls := fetchFixture(t)
	for _, target := range []string{"/hls/sig/master.m3u8", "/hls/sig/720p/seg_00000.m4s?token=garbage", "/hls/sig/720p/seg_00009.m4s"} {
		if w := serve(fetched, "GET", target); w.Code != http.StatusForbidden {
			t.Errorf("GET %s = %d, want 403", target, w.Code)
		}
	}
	if n := calls.len(); n != 0 {
		t.Errorf("Fetch called %d times for refused requests", n)
	}
	tok := f.sign(t, "k1", "sig", now.Add(time.Hour))
	serve(fetched, "GET", "/hls/sig/720p/seg_00001.m4s?token="+tok)
	if calls.len() != 1 || calls.names[0] != "720p/seg_00001.m4s" {
		t.Errorf("Fetch asked for %q, want [720p/seg_00001.m4s]", calls.names)
	}
}

func TestFetchErrors(t *testing.T) {
	_, fetched, _ := fetchFixture(t)
	cases := []struct {
		target string
		code   int
		body   string
	}{
		{"/hls/pub/720p/seg_00007.m4s", http.StatusNotFound, "not found\n"},
		{"/hls/pub/720p/seg_00008.m4s", http.StatusBadGateway, "bad gateway\n"},
	}
	for _, tc := range cases {
		w := serve(fetched, "GET", tc.target)
		if w.Code != tc.code || w.Body.String() != tc.body || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s = %d %q (Cache-Control %q), want %d %q", tc.target, w.Code, w.Body, w.Header().Get("Cache-Control"), tc.code, tc.body)
		}
	}
	// A viewer who left: whatever is answered, nothing is logged as a
	// failure of the origin.
	res := mapResolver{"pub": {PlaybackID: "pub", Fetch: func(ctx context.Context, _ string) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/hls/pub/720p/seg_00000.m4s", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	NewOrigin(Config{Resolver: res}).ServeHTTP(w, r)
	if w.Code == http.StatusOK || w.Code == http.StatusBadGateway {
		t.Errorf("cancelled viewer: %d", w.Code)
	}
}

// TestTrustRequest checks that a trusted request (a relaying edge) reads
// a signed stream without a token and gets playlists as written, and that
// nobody else does.
func TestTrustRequest(t *testing.T) {
	f := newFixture(t)
	asked := 0
	o := NewOrigin(Config{
		Resolver: f.res,
		Now:      func() time.Time { return now },
		TrustRequest: func(r *http.Request) bool {
			asked++
			return r.Header.Get("Authorization") == "Bearer cluster-secret"
		},
	})
	trusted := []string{"Authorization", "Bearer cluster-secret"}
	cases := []struct {
		target string
		header []string
		code   int
		raw    bool // playlist served as written
	}{
		{"/hls/sig/720p/index.m3u8", trusted, http.StatusOK, true},
		{"/hls/sig/master.m3u8", trusted, http.StatusOK, true},
		{"/hls/sig/720p/seg_00000.m4s", trusted, http.StatusOK, false},
		{"/hls/sig/720p/seg_00009.m4s", trusted, http.StatusNotFound, false},
		{"/hls/sig/720p/index.m3u8", nil, http.StatusForbidden, false},
		{"/hls/sig/720p/index.m3u8", []string{"Authorization", "Bearer wrong"}, http.StatusForbidden, false},
		{"/hls/sig/720p/index.m3u8?token=garbage", []string{"Authorization", "Bearer wrong"}, http.StatusForbidden, false},
	}
	for _, tc := range cases {
		w := serve(o, "GET", tc.target, tc.header...)
		if w.Code != tc.code {
			t.Errorf("GET %s %v = %d, want %d", tc.target, tc.header, w.Code, tc.code)
			continue
		}
		if tc.raw {
			if strings.Contains(w.Body.String(), "token=") {
				t.Errorf("GET %s: trusted playlist rewritten:\n%s", tc.target, w.Body)
			}
			if got := w.Header().Get("Cache-Control"); got != "private, no-cache" {
				t.Errorf("GET %s: Cache-Control %q", tc.target, got)
			}
		}
	}
	// A viewer's token still works beside it, and rewrites.
	tok := f.sign(t, "k1", "sig", now.Add(time.Hour))
	if w := serve(o, "GET", "/hls/sig/720p/index.m3u8?token="+tok); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "token="+tok) {
		t.Errorf("viewer with token: %d\n%s", w.Code, w.Body)
	}
	// Public streams never ask: there is nothing to skip.
	asked = 0
	serve(o, "GET", "/hls/pub/720p/index.m3u8", trusted...)
	if asked != 0 {
		t.Errorf("TrustRequest asked %d times for a public stream", asked)
	}
}

func serve(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
