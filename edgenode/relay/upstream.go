package relay

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	// maxPlaylistBytes is the largest playlist hls.Origin serves.
	maxPlaylistBytes = 16 << 20

	minPlaylistTTL    = 100 * time.Millisecond
	maxPlaylistTTL    = 3 * time.Second
	masterPlaylistTTL = time.Second // a multivariant playlist changes only between sessions
)

// newClient is the default upstream client: HTTP/1.1 keep-alive (the
// package comment says why), connections that fail fast when an origin
// edge is gone, no proxy from the environment, no transparent gzip (the
// segments are compressed media), and no redirects: an origin edge's HLS
// never redirects, and the cluster credential must not follow one.
func newClient() *http.Client {
	var protos http.Protocols
	protos.SetHTTP1(true)
	return &http.Client{
		Transport: &http.Transport{
			Protocols:           &protos,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
			TLSHandshakeTimeout: 3 * time.Second,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// download fetches k from origin into path, atomically (a temporary file
// renamed into place), and returns its size and, for a playlist, how long
// it may be reused.
func (r *Relay) download(k key, origin, path string) (size int64, ttl time.Duration, err error) {
	playlist := isPlaylist(k.name)
	timeout, limit := r.timeout, r.maxObj
	if playlist {
		timeout, limit = r.plTime, min(limit, maxPlaylistBytes)
		if k.q.Blocking() {
			// The origin holds it for up to three target durations.
			timeout = max(timeout, r.timeout)
		}
	}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()

	body, length, err := r.upstreamBody(ctx, k, origin)
	if err != nil {
		return 0, 0, err
	}
	defer body.Close()
	if length > limit {
		return 0, 0, fmt.Errorf("%w: Content-Length %d is over the %d-byte limit", ErrUpstream, length, limit)
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, fmt.Errorf("cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".relay-*")
	if err != nil {
		return 0, 0, fmt.Errorf("cache: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var pl bytes.Buffer
	var w io.Writer = tmp
	if playlist {
		w = io.MultiWriter(tmp, &pl)
	}
	// The length header may be absent (chunked) or wrong: count.
	size, err = io.Copy(w, io.LimitReader(body, limit+1))
	switch {
	case err != nil:
		return 0, 0, fmt.Errorf("%w: reading body: %w", ErrUpstream, err)
	case size > limit:
		return 0, 0, fmt.Errorf("%w: body is over the %d-byte limit", ErrUpstream, limit)
	}
	if err = tmp.Close(); err != nil {
		return 0, 0, fmt.Errorf("cache: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return 0, 0, fmt.Errorf("cache: %w", err)
	}
	if playlist {
		ttl = r.ttl
		if ttl <= 0 {
			ttl = playlistTTL(pl.Bytes())
		}
	}
	return size, ttl, nil
}

// upstreamBody opens the object upstream: through Config.Open, or from
// the origin edge over HTTP. length is -1 when unknown.
func (r *Relay) upstreamBody(ctx context.Context, k key, origin string) (body io.ReadCloser, length int64, err error) {
	if r.open != nil {
		body, err := r.open(ctx, origin, k.playbackID, k.name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, 0, fmt.Errorf("%w: %w", ErrNotFound, err)
		case err != nil:
			return nil, 0, fmt.Errorf("%w: %w", ErrUpstream, err)
		}
		return body, -1, nil
	}
	// The name was validated (hls.ValidObject): nothing in it needs
	// escaping.
	target := strings.TrimSuffix(origin, "/") + "/hls/" + k.playbackID + "/" + k.name
	if q := k.q.Encode(); q != "" {
		target += "?" + q
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUpstream, err)
	}
	if r.auth != nil {
		if a := r.auth(); a != "" {
			req.Header.Set("Authorization", a)
		}
	}
	req.Header.Set("User-Agent", "livestreams-relay")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUpstream, err)
	}
	drain := func() {
		// Drain a short error body so the connection is reused.
		io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		drain()
		return nil, 0, ErrNotFound
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		drain()
		return nil, 0, fmt.Errorf("%w: %s: the origin edge refused this edge's cluster credential (is the relay secret the same on every edge?)", ErrUpstream, resp.Status)
	case resp.StatusCode != http.StatusOK:
		drain()
		return nil, 0, fmt.Errorf("%w: %s", ErrUpstream, resp.Status)
	}
	return readCloser{resp.Body, drain}, resp.ContentLength, nil
}

// readCloser closes by draining, so the connection is reused.
type readCloser struct {
	io.Reader
	close func()
}

func (rc readCloser) Close() error { rc.close(); return nil }

// playlistTTL is how long a playlist may be reused: a quarter of its
// target duration (the longest segment), so a viewer of the relay trails
// one of the origin by at most that, within minPlaylistTTL and
// maxPlaylistTTL. A playlist without a target duration is a multivariant
// one.
func playlistTTL(pl []byte) time.Duration {
	const tag = "#EXT-X-TARGETDURATION:"
	i := bytes.Index(pl, []byte(tag))
	if i < 0 {
		return masterPlaylistTTL
	}
	v := pl[i+len(tag):]
	if end := bytes.IndexAny(v, "\r\n"); end >= 0 {
		v = v[:end]
	}
	// An integer by RFC 8216 4.3.3.1; accept a decimal too.
	sec, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
	switch {
	case err != nil || !(sec > 0):
		return minPlaylistTTL
	case sec > 60:
		return maxPlaylistTTL
	}
	return min(max(time.Duration(sec*float64(time.Second))/4, minPlaylistTTL), maxPlaylistTTL)
}

// TrustAuth returns a check for hls.Config.TrustRequest on the origin
// edge: it trusts a request whose Authorization header is want(), the
// value relays send (Config.AuthHeader), compared in constant time. While
// want() is "" it trusts nobody.
func TrustAuth(want func() string) func(*http.Request) bool {
	return func(req *http.Request) bool {
		w := want()
		got := req.Header.Get("Authorization")
		return w != "" && subtle.ConstantTimeCompare([]byte(got), []byte(w)) == 1
	}
}
