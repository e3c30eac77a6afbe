package hls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
	"github.com/livestreams/livestreams/shared/token"
)

// now is the origin's clock in these tests; tokens are signed relative to
// it.
var now = time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)

type mapResolver map[string]Stream

func (m mapResolver) Resolve(_ context.Context, playbackID string) (Stream, bool) {
	s, ok := m[playbackID]
	return s, ok
}

type fixture struct {
	origin *Origin
	priv   *ecdsa.PrivateKey
	res    mapResolver
	logs   *bytes.Buffer
	seg    []byte // content of 720p/seg_00000.m4s
}

// newFixture lays out what ffmpeg leaves on disk for two playback ids,
// "pub" (public) and "sig" (signed with key k1), and an origin serving
// them. Every file named in the playlists exists.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	root := t.TempDir()
	priv, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	seg := make([]byte, 256<<10)
	for i := range seg {
		seg[i] = byte(i * 7)
	}
	for _, pid := range []string{"pub", "sig"} {
		dir := filepath.Join(root, pid)
		files := map[string][]byte{
			"master.m3u8":                readTestdata(t, "master.m3u8"),
			"720p/index.m3u8":            readTestdata(t, "720p/index.m3u8"),
			"audio/index.m3u8":           readTestdata(t, "audio/index.m3u8"),
			"480p/index.m3u8":            []byte("#EXTM3U\n#EXT-X-MAP:URI=\"init_1.mp4\"\n#EXTINF:2,\nseg_00000.m4s\n#EXT-X-ENDLIST\n"),
			"720p/init_0.mp4":            []byte("init 720p"),
			"480p/init_1.mp4":            []byte("init 480p"),
			"audio/init_2.mp4":           []byte("init audio"),
			"720p/seg_00000.m4s":         seg,
			"720p/seg_00001.m4s":         []byte("seg 720p 1"),
			"720p/seg_00002.m4s":         []byte("seg 720p 2"),
			"480p/seg_00000.m4s":         []byte("seg 480p 0"),
			"audio/seg_00000.m4s":        []byte("seg audio 0"),
			"audio/seg_00001.m4s":        []byte("seg audio 1"),
			"audio/seg_00002.m4s":        []byte("seg audio 2"),
			"720p/index.m3u8.tmp":        []byte("#EXTM3U\n"),
			"720p/seg_00003.m4s.tmp":     []byte("partial"),
			".hidden.m3u8":               []byte("#EXTM3U\n"),
			"legacy.ts":                  []byte("ts"),
			"subs/en.vtt":                []byte("WEBVTT\n"),
			"thumb.jpg":                  []byte("jpeg"),
			"720p.m3u8":                  []byte("#EXTM3U\n#EXTINF:2,\n720p/seg_00000.m4s\n"),
			"dir.m4s/keep":               nil, // a directory with a segment's name
			"notes.txt":                  []byte("not served"),
			"720p/seg_00004.m4s.partial": []byte("not served"),
		}
		for name, b := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	logs := &bytes.Buffer{}
	res := mapResolver{
		"pub":   {PlaybackID: "pub", Dir: filepath.Join(root, "pub"), Live: true},
		"sig":   {PlaybackID: "sig", Signed: true, Keys: token.Keys{"k1": &priv.PublicKey}, Dir: filepath.Join(root, "sig"), Live: true},
		"gone":  {PlaybackID: "gone", Dir: filepath.Join(root, "gone")},
		"nodir": {PlaybackID: "nodir"},
	}
	o := NewOrigin(Config{
		Resolver: res,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      func() time.Time { return now },
	})
	return &fixture{origin: o, priv: priv, res: res, logs: logs, seg: seg}
}

func (f *fixture) sign(t testing.TB, kid, pid string, exp time.Time) string {
	t.Helper()
	tok, err := token.Sign(f.priv, kid, pid, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) do(method, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.origin.ServeHTTP(w, r)
	return w
}

func TestPublicStream(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"master.m3u8", "720p/index.m3u8", "720p/init_0.mp4", "720p/seg_00000.m4s", "720p.m3u8", "legacy.ts", "subs/en.vtt", "thumb.jpg"} {
		for _, q := range []string{"", "?token=garbage"} {
			w := f.do("GET", "/hls/pub/"+p+q)
			if w.Code != http.StatusOK {
				t.Errorf("GET %s%s = %d, want 200", p, q, w.Code)
			}
		}
	}
	// A public playlist is served as written, token or not.
	w := f.do("GET", "/hls/pub/master.m3u8?token=x")
	if !bytes.Equal(w.Body.Bytes(), readTestdata(t, "master.m3u8")) {
		t.Errorf("public playlist was changed:\n%s", w.Body)
	}
	if w := f.do("GET", "/hls/pub/720p/seg_00000.m4s"); !bytes.Equal(w.Body.Bytes(), f.seg) {
		t.Errorf("segment body differs (%d bytes)", w.Body.Len())
	}
}

func TestSignedStream(t *testing.T) {
	f := newFixture(t)
	valid := f.sign(t, "k1", "sig", now.Add(time.Hour))
	parts := strings.Split(valid, ".")
	other := strings.Split(f.sign(t, "k1", "pub", now.Add(time.Hour)), ".")
	otherKey, _ := token.GenerateKey()
	unknown, _ := token.Sign(otherKey, "k2", "sig", now.Add(time.Hour))
	wrongKeySameKid, _ := token.Sign(otherKey, "k1", "sig", now.Add(time.Hour))

	type auth struct {
		query  string
		header []string
	}
	cases := []struct {
		name string
		auth auth
		want int
	}{
		{"no token", auth{}, http.StatusForbidden},
		{"empty token", auth{query: "?token="}, http.StatusForbidden},
		{"valid in query", auth{query: "?token=" + valid}, http.StatusOK},
		{"valid in query among others", auth{query: "?a=1&token=" + valid + "&b=2"}, http.StatusOK},
		{"valid as bearer", auth{header: []string{"Authorization", "Bearer " + valid}}, http.StatusOK},
		{"valid as lower-case bearer", auth{header: []string{"Authorization", "bearer " + valid}}, http.StatusOK},
		{"valid in query, bad bearer", auth{query: "?token=" + valid, header: []string{"Authorization", "Bearer x"}}, http.StatusOK},
		{"basic auth", auth{header: []string{"Authorization", "Basic " + valid}}, http.StatusForbidden},
		{"within leeway", auth{query: "?token=" + f.sign(t, "k1", "sig", now.Add(-10*time.Second))}, http.StatusOK},
		{"expired", auth{query: "?token=" + f.sign(t, "k1", "sig", now.Add(-time.Minute))}, http.StatusForbidden},
		{"tampered payload", auth{query: "?token=" + parts[0] + "." + other[1] + "." + parts[2]}, http.StatusForbidden},
		{"tampered signature", auth{query: "?token=" + parts[0] + "." + parts[1] + "." + other[2]}, http.StatusForbidden},
		{"wrong playback id", auth{query: "?token=" + strings.Join(other, ".")}, http.StatusForbidden},
		{"unknown key", auth{query: "?token=" + unknown}, http.StatusForbidden},
		{"another key under a known kid", auth{query: "?token=" + wrongKeySameKid}, http.StatusForbidden},
		{"garbage", auth{query: "?token=garbage"}, http.StatusForbidden},
		{"bad escape", auth{query: "?token=%zz"}, http.StatusForbidden},
	}
	objects := []string{"master.m3u8", "720p/index.m3u8", "audio/index.m3u8", "720p/init_0.mp4", "720p/seg_00000.m4s"}
	for _, tc := range cases {
		for _, obj := range objects {
			w := f.do("GET", "/hls/sig/"+obj+tc.auth.query, tc.auth.header...)
			if w.Code != tc.want {
				t.Errorf("%s: GET %s = %d, want %d", tc.name, obj, w.Code, tc.want)
				continue
			}
			if tc.want == http.StatusForbidden {
				if got := w.Body.String(); got != "forbidden\n" {
					t.Errorf("%s: body %q", tc.name, got)
				}
				if got := w.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("%s: 403 Cache-Control %q", tc.name, got)
				}
			}
		}
	}
	// Refusals are logged for debugging, never with the token.
	if strings.Contains(f.logs.String(), parts[2]) || !strings.Contains(f.logs.String(), "token expired") {
		t.Errorf("logs:\n%s", f.logs)
	}
}

// TestSignedKeyRevoked checks that a token seen before (and remembered as
// verified) stops working when its key leaves the stream's keys.
func TestSignedKeyRevoked(t *testing.T) {
	f := newFixture(t)
	target := "/hls/sig/720p/seg_00001.m4s?token=" + f.sign(t, "k1", "sig", now.Add(time.Hour))
	for range 2 {
		if w := f.do("GET", target); w.Code != http.StatusOK {
			t.Fatalf("before revocation: %d", w.Code)
		}
	}
	st := f.res["sig"]
	st.Keys = token.Keys{}
	f.res["sig"] = st
	if w := f.do("GET", target); w.Code != http.StatusForbidden {
		t.Fatalf("after revocation: %d", w.Code)
	}
}

func TestSignedPlaylistRewritten(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(t, "k1", "sig", now.Add(time.Hour))
	for _, via := range []string{"query", "bearer"} {
		target, hdr := "/hls/sig/720p/index.m3u8?token="+tok, []string(nil)
		if via == "bearer" {
			target, hdr = "/hls/sig/720p/index.m3u8", []string{"Authorization", "Bearer " + tok}
		}
		w := f.do("GET", target, hdr...)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d", via, w.Code)
		}
		want := RewritePlaylist(readTestdata(t, "720p/index.m3u8"), "token="+tok)
		if !bytes.Equal(w.Body.Bytes(), want) {
			t.Errorf("%s: body\n%s\nwant\n%s", via, w.Body, want)
		}
		if !strings.Contains(w.Body.String(), `#EXT-X-MAP:URI="init_0.mp4?token=`+tok+`"`) {
			t.Errorf("%s: init segment URI not rewritten", via)
		}
		if got, want := w.Header().Get("Content-Length"), strconv.Itoa(len(want)); got != want {
			t.Errorf("%s: Content-Length %s, want %s", via, got, want)
		}
	}
}

// TestPlayerWalk plays a signed stream the way a player does, through a
// real server with the origin mounted as the edge mounts it: start at the
// master playlist with a token and follow every URI of every playlist,
// resolved against the playlist's URL. Everything must be 200 without the
// player knowing about tokens.
func TestPlayerWalk(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/hls/", f.origin)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tok := f.sign(t, "k1", "sig", now.Add(time.Hour))
	start, _ := url.Parse(srv.URL + "/hls/sig/master.m3u8?token=" + tok)
	queue, seen := []*url.URL{start}, map[string]bool{}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if seen[u.String()] {
			continue
		}
		seen[u.String()] = true
		resp, err := srv.Client().Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", u.Path, resp.StatusCode)
			continue
		}
		if u.Query().Get("token") != tok {
			t.Errorf("GET %s without the token", u)
		}
		if !strings.HasSuffix(u.Path, ".m3u8") {
			continue
		}
		for _, ref := range playlistURIs(body) {
			r, err := url.Parse(ref)
			if err != nil {
				t.Fatalf("%s: bad URI %q", u.Path, ref)
			}
			queue = append(queue, u.ResolveReference(r))
		}
	}
	// master, 2 video + 1 audio playlist, 3 init and 7 media segments.
	if len(seen) != 14 {
		t.Errorf("fetched %d objects, want 14: %v", len(seen), seen)
	}
}

// playlistURIs extracts URIs as a player would: URI lines and URI="…"
// attributes.
func playlistURIs(pl []byte) []string {
	var uris []string
	sc := bufio.NewScanner(bytes.NewReader(pl))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case !strings.HasPrefix(line, "#"):
			uris = append(uris, line)
		default:
			if _, rest, ok := strings.Cut(line, `URI="`); ok {
				u, _, _ := strings.Cut(rest, `"`)
				uris = append(uris, u)
			}
		}
	}
	return uris
}

func TestHeaders(t *testing.T) {
	f := newFixture(t)
	tok := "?token=" + f.sign(t, "k1", "sig", now.Add(time.Hour))
	cases := []struct {
		path, ctype, cachePub, cacheSig string
	}{
		{"master.m3u8", "application/vnd.apple.mpegurl", "no-cache", "private, no-cache"},
		{"720p/index.m3u8", "application/vnd.apple.mpegurl", "no-cache", "private, no-cache"},
		{"720p/init_0.mp4", "video/mp4", "public, max-age=31536000, immutable", "private, max-age=31536000, immutable"},
		{"720p/seg_00000.m4s", "video/iso.segment", "public, max-age=31536000, immutable", "private, max-age=31536000, immutable"},
		{"legacy.ts", "video/mp2t", "public, max-age=31536000, immutable", "private, max-age=31536000, immutable"},
		{"subs/en.vtt", "text/vtt", "public, max-age=31536000, immutable", "private, max-age=31536000, immutable"},
		{"thumb.jpg", "image/jpeg", "public, max-age=31536000, immutable", "private, max-age=31536000, immutable"},
	}
	for _, tc := range cases {
		for _, signed := range []bool{false, true} {
			target, cache := "/hls/pub/"+tc.path, tc.cachePub
			if signed {
				target, cache = "/hls/sig/"+tc.path+tok, tc.cacheSig
			}
			w := f.do("GET", target)
			h := w.Header()
			if w.Code != http.StatusOK || h.Get("Content-Type") != tc.ctype || h.Get("Cache-Control") != cache {
				t.Errorf("GET %s: %d, Content-Type %q, Cache-Control %q; want 200, %q, %q",
					target, w.Code, h.Get("Content-Type"), h.Get("Cache-Control"), tc.ctype, cache)
			}
			if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s: CORS %q, nosniff %q", target, h.Get("Access-Control-Allow-Origin"), h.Get("X-Content-Type-Options"))
			}
			if !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Content-Range") {
				t.Errorf("GET %s: Expose-Headers %q", target, h.Get("Access-Control-Expose-Headers"))
			}
			if strings.HasSuffix(tc.path, ".m3u8") && h.Get("Last-Modified") != "" {
				t.Errorf("GET %s: playlist has Last-Modified", target)
			}
		}
	}
}

func TestCORS(t *testing.T) {
	f := newFixture(t)
	w := f.do("OPTIONS", "/hls/sig/720p/seg_00000.m4s",
		"Origin", "https://player.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "range")
	h := w.Header()
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("preflight: %d %q", w.Code, w.Body)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
		"Access-Control-Allow-Headers": "Range, Authorization",
		"Access-Control-Max-Age":       "86400",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("preflight %s = %q, want %q", k, got, want)
		}
	}
	// Errors carry CORS too, so a player's script sees 403 or 404.
	if w := f.do("GET", "/hls/sig/master.m3u8"); w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Error("403 without CORS header")
	}

	o := NewOrigin(Config{Resolver: mapResolver{}, CORSOrigin: "https://player.example"})
	w = httptest.NewRecorder()
	o.ServeHTTP(w, httptest.NewRequest("GET", "/hls/x/master.m3u8", nil))
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://player.example" {
		t.Errorf("configured origin: %q", got)
	}
}

func TestMethods(t *testing.T) {
	f := newFixture(t)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "PROPFIND"} {
		w := f.do(m, "/hls/pub/master.m3u8")
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("%s: %d, Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
	}
}

func TestHead(t *testing.T) {
	f := newFixture(t)
	tok := "?token=" + f.sign(t, "k1", "sig", now.Add(time.Hour))
	for _, target := range []string{"/hls/pub/720p/seg_00000.m4s", "/hls/pub/master.m3u8", "/hls/sig/master.m3u8" + tok, "/hls/sig/720p/seg_00000.m4s" + tok} {
		get, head := f.do("GET", target), f.do("HEAD", target)
		if head.Code != http.StatusOK || head.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d with %d bytes", target, head.Code, head.Body.Len())
		}
		if got, want := head.Header().Get("Content-Length"), strconv.Itoa(get.Body.Len()); got != want {
			t.Errorf("HEAD %s: Content-Length %s, want %s", target, got, want)
		}
		if head.Header().Get("Content-Type") != get.Header().Get("Content-Type") {
			t.Errorf("HEAD %s: Content-Type differs from GET", target)
		}
	}
	if w := f.do("HEAD", "/hls/sig/master.m3u8"); w.Code != http.StatusForbidden {
		t.Errorf("HEAD without token: %d", w.Code)
	}
}

func TestRange(t *testing.T) {
	f := newFixture(t)
	tok := "?token=" + f.sign(t, "k1", "sig", now.Add(time.Hour))
	for _, target := range []string{"/hls/pub/720p/seg_00000.m4s", "/hls/sig/720p/seg_00000.m4s" + tok} {
		w := f.do("GET", target, "Range", "bytes=1000-1999")
		if w.Code != http.StatusPartialContent {
			t.Fatalf("%s: %d", target, w.Code)
		}
		if got, want := w.Header().Get("Content-Range"), "bytes 1000-1999/"+strconv.Itoa(len(f.seg)); got != want {
			t.Errorf("%s: Content-Range %q, want %q", target, got, want)
		}
		if !bytes.Equal(w.Body.Bytes(), f.seg[1000:2000]) {
			t.Errorf("%s: wrong bytes", target)
		}
		if w := f.do("GET", target, "Range", "bytes=-10"); w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), f.seg[len(f.seg)-10:]) {
			t.Errorf("%s: suffix range: %d", target, w.Code)
		}
		w = f.do("GET", target, "Range", "bytes=999999999-")
		if w.Code != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("%s: unsatisfiable range: %d", target, w.Code)
		}
		if cc := w.Header().Get("Cache-Control"); strings.Contains(cc, "immutable") {
			t.Errorf("%s: 416 is cacheable: %q", target, cc)
		}
	}
	if w := f.do("GET", "/hls/sig/720p/seg_00000.m4s", "Range", "bytes=0-9"); w.Code != http.StatusForbidden {
		t.Errorf("range without token: %d", w.Code)
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	tok := "?token=" + f.sign(t, "k1", "sig", now.Add(time.Hour))
	for _, target := range []string{
		"/hls/nobody/master.m3u8",                     // unknown playback id
		"/hls/pub/720p/seg_00009.m4s",                 // the next live segment, not there yet
		"/hls/sig/720p/seg_00009.m4s" + tok,           // same, signed
		"/hls/pub/720p/index.m3u8.tmp",                // ffmpeg's temporary file
		"/hls/pub/720p/seg_00003.m4s.tmp",             // same, a segment
		"/hls/pub/720p/seg_00004.m4s.partial",         // unknown extension
		"/hls/pub/.hidden.m3u8",                       // hidden
		"/hls/pub/notes.txt",                          // not a media file
		"/hls/pub/dir.m4s",                            // a directory
		"/hls/pub/720p/../master.m3u8",                // escape
		"/hls/pub/../sig/master.m3u8",                 // escape to another stream
		"/hls/pub/a/b/c.m4s",                          // too deep
		"/hls/pub/",                                   // a directory listing
		"/hls/",                                       // the root
		"/hls/gone/master.m3u8",                       // stream dir missing
		"/hls/nodir/master.m3u8",                      // stream without a dir
		"/hls/pub%2F..%2Fsig/master.m3u8",             // encoded slashes
		"/hls/pub/720p%2F..%2F..%2Fsig%2Fmaster.m3u8", // encoded escape
		"/elsewhere/pub/master.m3u8",                  // not under /hls/
	} {
		w := f.do("GET", target)
		if w.Code != http.StatusNotFound || w.Body.String() != "not found\n" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s = %d %q (Cache-Control %q), want 404 \"not found\"", target, w.Code, w.Body, w.Header().Get("Cache-Control"))
		}
	}
	// Without a token a signed stream reveals nothing about its files:
	// a missing segment is 403 like a present one.
	if w := f.do("GET", "/hls/sig/720p/seg_00009.m4s"); w.Code != http.StatusForbidden {
		t.Errorf("missing segment of a signed stream without token: %d, want 403", w.Code)
	}
}

func TestNewOriginNilResolver(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewOrigin(Config{})
}

func benchServe(b *testing.B, target func(f *fixture) string, forget bool) {
	f := newFixture(b)
	r := httptest.NewRequest("GET", target(f), nil)
	w := &testutil.DiscardWriter{}
	b.ReportAllocs()
	for b.Loop() {
		if forget {
			f.origin.verified.mu.Lock()
			clear(f.origin.verified.m)
			f.origin.verified.mu.Unlock()
		}
		w.Reset()
		f.origin.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func BenchmarkServeSegment(b *testing.B) {
	benchServe(b, func(*fixture) string { return "/hls/pub/720p/seg_00000.m4s" }, false)
}

// BenchmarkServeSegmentSigned is the common case: a viewer's token was
// verified on an earlier request.
func BenchmarkServeSegmentSigned(b *testing.B) {
	benchServe(b, func(f *fixture) string {
		return "/hls/sig/720p/seg_00000.m4s?token=" + f.sign(b, "k1", "sig", now.Add(time.Hour))
	}, false)
}

// BenchmarkServeSegmentSignedFirstUse verifies the token's signature on
// every request.
func BenchmarkServeSegmentSignedFirstUse(b *testing.B) {
	benchServe(b, func(f *fixture) string {
		return "/hls/sig/720p/seg_00000.m4s?token=" + f.sign(b, "k1", "sig", now.Add(time.Hour))
	}, true)
}

func BenchmarkServePlaylistSigned(b *testing.B) {
	benchServe(b, func(f *fixture) string {
		return "/hls/sig/720p/index.m3u8?token=" + f.sign(b, "k1", "sig", now.Add(time.Hour))
	}, false)
}
