package mediajobs

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
)

// cmdlines records the argument vectors of the Runner's processes while
// they run, read from /proc as any local user could.
type cmdlines struct {
	mu   sync.Mutex
	seen map[int]string
}

// watch polls r's processes until ctx ends; wait for the returned channel.
func (c *cmdlines) watch(ctx context.Context, r *Runner) <-chan struct{} {
	c.seen = map[int]string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			for _, pid := range r.PIDs() {
				b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
				if err == nil && len(b) > 0 {
					c.mu.Lock()
					c.seen[pid] = strings.ReplaceAll(string(b), "\x00", " ")
					c.mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done
}

// TestNoSecretInArguments: while jobs run, no ffmpeg or ffprobe argument
// vector carries a presigned URL's signature; they read the source
// through the loopback proxy (issue 12, finding 6).
func TestNoSecretInArguments(t *testing.T) {
	src := mediatest.File(t, mediatest.Spec{Width: 320, Height: 180, Seconds: 6, Audio: true})
	store := newStore(t)
	r := newRunner(t, store)
	prefix := assetPrefix(t, "ast_args")
	putFile(t, store, prefix+objstore.SourceFile, src)
	presigned, err := store.PresignGet(t.Context(), prefix+objstore.SourceFile, time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	var c cmdlines
	ctx, cancel := context.WithCancel(t.Context())
	done := c.watch(ctx, r)
	_, err = r.Run(t.Context(), job(t, protocol.JobVOD, protocol.VODJob{SourceKey: prefix + objstore.SourceFile, Prefix: prefix}), nil)
	if err == nil {
		clip := assetPrefix(t, "ast_args_clip")
		_, err = r.Run(t.Context(), job(t, protocol.JobClip, protocol.ClipJob{SourceKey: prefix + objstore.SourceFile, Prefix: clip, Start: 1, End: 4}), nil)
	}
	if err == nil {
		_, err = r.Thumbnail(t.Context(), presigned, 2, 0)
	}
	cancel()
	<-done
	if err != nil {
		t.Fatal(err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	proxied := 0
	for pid, args := range c.seen {
		for _, secret := range []string{"sig=", "exp=", "X-Amz-Signature", "X-Amz-Credential", "/objects/"} {
			if strings.Contains(args, secret) {
				t.Errorf("process %d shows %q in its arguments: %s", pid, secret, args)
			}
		}
		if strings.Contains(args, "http://127.0.0.1:") && strings.Contains(args, proxyPrefix) {
			proxied++
		}
	}
	t.Logf("%d processes seen, %d reading through the proxy", len(c.seen), proxied)
	if proxied < 3 {
		t.Errorf("saw %d processes reading through the proxy, want the probes, transcodes and thumbnails", proxied)
	}
}

// TestInputProxy: the proxy serves ranges of what it was given, only
// while registered, only GET and HEAD.
func TestInputProxy(t *testing.T) {
	store := newStore(t)
	key := assetPrefix(t, "ast_proxy") + objstore.SourceFile
	if _, err := store.Put(t.Context(), key, strings.NewReader("0123456789"), 10, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	presigned, err := store.PresignGet(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	p := newInputProxy()
	defer p.Close()
	local, release, err := p.add(presigned)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(local, "http://127.0.0.1:") || strings.Contains(local, "sig") {
		t.Fatalf("local URL %q", local)
	}
	get := func(method, u string, h http.Header) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), method, u, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Range") + "|" + string(b)
	}
	if code, body := get(http.MethodGet, local, http.Header{"Range": {"bytes=2-4"}}); code != 206 || body != "bytes 2-4/10|234" {
		t.Errorf("ranged GET = %d %q", code, body)
	}
	if code, _ := get(http.MethodPut, local, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("PUT = %d, want 405", code)
	}
	if code, _ := get(http.MethodGet, local+"x", nil); code != 404 {
		t.Errorf("GET of another path = %d, want 404", code)
	}
	release()
	if code, _ := get(http.MethodGet, local, nil); code != 404 {
		t.Errorf("GET after release = %d, want 404", code)
	}
}
