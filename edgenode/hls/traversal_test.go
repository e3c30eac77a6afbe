package hls

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secretMark is the content of every file a traversal could reach: it
// must never appear in an answer.
const secretMark = "SECRET-OUTSIDE-THE-STREAM"

// traversalTargets are request targets an attacker sends to /hls/: dot
// segments plain, percent-encoded, double-encoded and in overlong UTF-8,
// backslashes, absolute paths, NUL and oversized names. They are written
// to the wire as they are, so no client cleans them first.
var traversalTargets = []string{
	"/hls/pub/../secret.m3u8",
	"/hls/pub/../../secret.m3u8",
	"/hls/pub/720p/../../secret.m3u8",
	"/hls/pub/%2e%2e/secret.m3u8",
	"/hls/pub/%2E%2E/secret.m3u8",
	"/hls/pub/.%2e/secret.m3u8",
	"/hls/pub/%2e%2e%2fsecret.m3u8",
	"/hls/pub/%2e%2e%2f%2e%2e%2fsecret.m3u8",
	"/hls/pub%2f..%2fsecret.m3u8",
	"/hls/pub/%252e%252e/secret.m3u8",
	"/hls/pub/%252e%252e%252fsecret.m3u8",
	"/hls/pub/%c0%ae%c0%ae/secret.m3u8",
	"/hls/pub/..%5csecret.m3u8",
	"/hls/pub/..%5c..%5csecret.m3u8",
	"/hls/pub/%5c..%5csecret.m3u8",
	"/hls/pub/..\\secret.m3u8",
	"/hls/..%5csecret.m3u8",
	"/hls/pub//secret.m3u8",
	"/hls/pub/%2fsecret.m3u8",
	"/hls//secret.m3u8",
	"/hls/pub/%2Fetc%2Fpasswd.m3u8",
	"/hls/pub/C:%5csecret.m3u8",
	"/hls/..%2fsecret.m3u8",
	"/hls/%2e%2e/secret.m3u8",
	"/hls/pub/secret.m3u8%00.m3u8",
	"/hls/pub/%00/../secret.m3u8",
	"/hls/pub/master.m3u8%00",
	"/hls/pub/..;/secret.m3u8",
	"/hls/pub/" + strings.Repeat("a", 4096) + ".m3u8",
	"/hls/pub/" + strings.Repeat("../", 200) + "secret.m3u8",
	"/hls/pub/" + strings.Repeat("%2e%2e%2f", 200) + "secret.m3u8",
	"/hls/" + strings.Repeat("p", 10_000) + "/master.m3u8",
	"/hls/pub/.secret.m3u8",
}

// newTraversalRoot lays out a stream "pub" with a master playlist and,
// around it, files no request may reach: a secret beside the stream
// directory, one above the root and a hidden file in the stream.
func newTraversalRoot(t *testing.T) (root string, res mapResolver) {
	t.Helper()
	top := t.TempDir()
	root = filepath.Join(top, "root")
	dir := filepath.Join(root, "pub")
	for _, d := range []string{filepath.Join(dir, "720p")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(dir, "master.m3u8"):        "#EXTM3U\n",
		filepath.Join(dir, "720p", "index.m3u8"): "#EXTM3U\n",
		filepath.Join(dir, ".secret.m3u8"):       secretMark,
		filepath.Join(root, "secret.m3u8"):       secretMark,
		filepath.Join(top, "secret.m3u8"):        secretMark,
	}
	for p, b := range files {
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, mapResolver{"pub": {PlaybackID: "pub", Dir: dir, Live: true}}
}

// rawGet writes one request line to addr as it is and reads the answer.
func rawGet(t *testing.T, addr, target string) (int, http.Header, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %.80q: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(b)
}

// TestTraversal sends traversalTargets to the origin, once as the whole
// server and once behind a ServeMux at /hls/ the way the edge mounts it:
// each is refused with a 4xx (the mux may first redirect a dot-segment
// path to its cleaned form, which is then refused in turn) and no answer
// carries a file from outside the stream's directory.
func TestTraversal(t *testing.T) {
	_, res := newTraversalRoot(t)
	o := NewOrigin(Config{Resolver: res, Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	mux.Handle("/hls/", o)
	for _, srv := range []struct {
		name string
		h    http.Handler
	}{{"origin", o}, {"mux", mux}} {
		s := httptest.NewServer(srv.h)
		addr := s.Listener.Addr().String()
		if code, _, body := rawGet(t, addr, "/hls/pub/master.m3u8"); code != 200 || body != "#EXTM3U\n" {
			t.Fatalf("%s: the stream's own playlist: %d %q", srv.name, code, body)
		}
		for _, target := range traversalTargets {
			code, hdr, body := rawGet(t, addr, target)
			for hops := 0; code >= 300 && code < 400 && srv.name == "mux" && hops < 3; hops++ {
				// The edge's mux answers a dot-segment path with a
				// redirect to its cleaned form; follow it on the same
				// server, where it is refused.
				loc := hdr.Get("Location")
				if !strings.HasPrefix(loc, "/") {
					t.Errorf("%s: GET %.80q redirects off the server to %q", srv.name, target, loc)
					break
				}
				code, hdr, body = rawGet(t, addr, loc)
			}
			if code < 400 || code > 499 {
				t.Errorf("%s: GET %.80q = %d, want 4xx", srv.name, target, code)
			}
			if strings.Contains(body, secretMark) {
				t.Errorf("%s: GET %.80q served a file outside the stream", srv.name, target)
			}
		}
		s.Close()
	}
}
