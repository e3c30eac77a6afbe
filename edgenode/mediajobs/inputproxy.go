package mediajobs

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// inputProxy keeps presigned URLs out of ffmpeg's and ffprobe's argument
// vectors, which every local user can read (ps, /proc/PID/cmdline). A job
// registers its source's presigned URL and hands ffmpeg a loopback URL
// with a random path instead; the proxy forwards GET and HEAD (with Range,
// so ffmpeg seeks as it would on the object store) to the presigned URL.
// The path is unguessable (128 bits), answers only on 127.0.0.1, and dies
// with the job (release), so what a process listing shows is worth nothing
// once the job ends; the presigned URL itself (valid for hours) never
// leaves this process.
//
// A pipe or a file would also hide the URL, but ffmpeg cannot seek a pipe
// (an MP4 with its index at the end fails), and a file means downloading a
// whole source before the job can start.
type inputProxy struct {
	client *http.Client

	mu     sync.Mutex
	routes map[string]string // path -> presigned URL
	base   string            // "http://127.0.0.1:PORT", once started
	srv    *http.Server
	done   chan struct{} // closed when Serve has returned
	closed bool
}

// proxyPrefix is the path under which registered inputs are served.
const proxyPrefix = "/in/"

func newInputProxy() *inputProxy {
	return &inputProxy{
		// No overall timeout: a transcode reads its source for as long as
		// it runs; ffmpeg's -rw_timeout catches a stalled read.
		client: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
		}},
		routes: map[string]string{},
	}
}

// add registers a presigned URL and returns the loopback URL that stands
// for it, and the release that forgets it. It starts the listener on first
// use.
func (p *inputProxy) add(presigned string) (string, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return "", nil, errors.New("input proxy: closed")
	}
	if p.srv == nil {
		if err := p.start(); err != nil {
			return "", nil, err
		}
	}
	path := proxyPrefix + rand.Text()
	p.routes[path] = presigned
	release := func() {
		p.mu.Lock()
		delete(p.routes, path)
		p.mu.Unlock()
	}
	return p.base + path, release, nil
}

// start listens on a free loopback port; p.mu is held.
func (p *inputProxy) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("input proxy: %w", err)
	}
	p.base = "http://" + ln.Addr().String()
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(ln) // ends with Close
	}()
	return nil
}

// Close stops the listener and waits for it; requests in flight end.
func (p *inputProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	srv, done := p.srv, p.done
	p.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	p.client.CloseIdleConnections()
	return err
}

// forwarded are the request headers a ranged, conditional read needs.
var forwarded = []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since"}

// returned are the response headers ffmpeg reads.
var returned = []string{"Content-Length", "Content-Range", "Content-Type", "Accept-Ranges", "ETag", "Last-Modified"}

func (p *inputProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	target, ok := p.routes[r.URL.Path]
	p.mu.Unlock()
	if !ok || !strings.HasPrefix(r.URL.Path, proxyPrefix) {
		http.NotFound(w, r)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target, nil)
	if err != nil {
		http.Error(w, "bad upstream", http.StatusBadGateway)
		return
	}
	for _, h := range forwarded {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		// The error would name the presigned URL: say less.
		http.Error(w, "object store unreachable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range returned {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodGet {
		_, _ = io.Copy(w, resp.Body) // a broken copy ends ffmpeg's read, which retries
	}
}

// localInput returns what ffmpeg is given for input: a path as it is, an
// http URL (presigned) through the proxy. release forgets the URL; call it
// when the job's processes are done with it.
func (r *Runner) localInput(input string, red *redactor) (string, func(), error) {
	if !isHTTP(input) {
		return input, func() {}, nil
	}
	local, release, err := r.proxy.add(input)
	if err != nil {
		return "", nil, err
	}
	red.add(local, "source")
	return local, release, nil
}
