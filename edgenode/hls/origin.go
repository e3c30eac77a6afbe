package hls

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/livestreams/livestreams/shared/token"
)

// maxPlaylistSize bounds what is read into memory for one playlist. An
// event playlist of a 24-hour stream in 2-second segments is about 2 MiB.
const maxPlaylistSize = 16 << 20

// tokenParam is the query parameter that carries a playback token, in
// requests and in rewritten playlists.
const tokenParam = "token"

// Stream is what the origin may serve for one playback id.
type Stream struct {
	PlaybackID string
	Signed     bool       // every object needs a token verified by Keys
	Keys       token.Keys // the org's verification keys, by key id
	Dir        string     // the directory ffmpeg writes the stream's HLS into
	Live       bool       // informational; caching does not depend on it (a playback id can go live again)

	// Fetch, when set, is where the stream's objects come from instead of
	// Dir: a stream another edge originates, relayed into a local cache.
	// It returns the path of a complete local copy of name (a validated
	// name relative to the stream, "720p/seg_00001.m4s"). The origin calls
	// it after the token check, so a viewer without a token cannot make
	// the edge fetch anything, and then serves the file exactly as a local
	// one. An error that is fs.ErrNotExist is a 404; one with a
	// RetryAfter() time.Duration method (workpool.ErrBusy) a 503 with
	// Retry-After; any other is a 502.
	Fetch func(ctx context.Context, name string) (path string, err error)
	// FetchQuery, when set beside Fetch, fetches a playlist asked with
	// LL-HLS delivery directives (a blocking reload, a delta update)
	// with those directives, so that the upstream origin holds the
	// request; without it such a request gets the playlist Fetch has.
	FetchQuery func(ctx context.Context, name string, q Query) (path string, err error)
	// Changed, when set, returns a channel closed at the stream's next
	// playlist write; requests held for a part or a playlist version
	// wait on it instead of looking at the file every few milliseconds.
	Changed func() <-chan struct{}
}

// Resolver tells the origin which playback ids it serves. Resolve is
// called once per request and should be cheap (a map lookup).
type Resolver interface {
	Resolve(ctx context.Context, playbackID string) (Stream, bool)
}

// Config configures an Origin. Resolver is required.
type Config struct {
	Resolver Resolver
	Logger   *slog.Logger     // nil discards
	Now      func() time.Time // clock for token expiry; nil is time.Now

	// CORSOrigin is the Access-Control-Allow-Origin value; "" is "*".
	// Players are usually on another origin than the edge.
	CORSOrigin string

	// TrustRequest, when set, reports whether a request comes from a
	// member of the cluster (another edge relaying a stream) rather than
	// from a viewer. It is asked only for signed streams; a trusted
	// request needs no token, and its playlists are served as written,
	// not rewritten, so the relaying edge can rewrite them for its own
	// viewers. Compare secrets in constant time.
	TrustRequest func(*http.Request) bool
}

// Origin is an http.Handler serving HLS from the streams a Resolver names.
// Mount it at /hls/ without stripping the prefix.
type Origin struct {
	resolver Resolver
	trust    func(*http.Request) bool
	log      *slog.Logger
	now      func() time.Time
	h        headerValues
	verified verifiedTokens
}

// headerValues are built once so that a response does not allocate a
// []string per header. They are never modified after NewOrigin; each has
// len == cap, so an append by someone downstream copies.
type headerValues struct {
	allowOrigin, exposeHeaders, allowMethods, allowHeaders, maxAge []string

	nosniff, textPlain, noStore                                            []string
	playlist, mp4, segmentFMP4, segmentTS, vtt, jpeg                       []string
	cachePlaylist, cachePlaylistPrivate, cacheImmutable, cacheImmutablePvt []string
}

func one(s string) []string { return []string{s} }

// NewOrigin returns an Origin. It panics if cfg.Resolver is nil, a
// programming error.
func NewOrigin(cfg Config) *Origin {
	if cfg.Resolver == nil {
		panic("hls: Config.Resolver is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CORSOrigin == "" {
		cfg.CORSOrigin = "*"
	}
	return &Origin{
		resolver: cfg.Resolver,
		trust:    cfg.TrustRequest,
		log:      cfg.Logger,
		now:      cfg.Now,
		h: headerValues{
			allowOrigin:   one(cfg.CORSOrigin),
			exposeHeaders: one("Content-Length, Content-Range"),
			allowMethods:  one("GET, HEAD, OPTIONS"),
			allowHeaders:  one("Range, Authorization"),
			maxAge:        one("86400"),

			nosniff:   one("nosniff"),
			textPlain: one("text/plain; charset=utf-8"),
			noStore:   one("no-store"),

			playlist:    one("application/vnd.apple.mpegurl"),
			mp4:         one("video/mp4"),
			segmentFMP4: one("video/iso.segment"),
			segmentTS:   one("video/mp2t"),
			vtt:         one("text/vtt"),
			jpeg:        one("image/jpeg"),

			// A live playlist changes every segment; players poll it.
			// Playlists of signed streams carry the viewer's token, so no
			// shared cache may keep them (the token may have come in a
			// header, not in the URL a cache would key on).
			cachePlaylist:        one("no-cache"),
			cachePlaylistPrivate: one("private, no-cache"),
			// A segment, once renamed into place, never changes.
			cacheImmutable:    one("public, max-age=31536000, immutable"),
			cacheImmutablePvt: one("private, max-age=31536000, immutable"),
		},
	}
}

// ServeHTTP serves GET and HEAD /hls/{playback_id}/{file}, answers CORS
// preflights, and refuses other methods.
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// On every answer, errors included, so a player's script sees the
	// status instead of an opaque CORS failure.
	h["Access-Control-Allow-Origin"] = o.h.allowOrigin
	h["Access-Control-Expose-Headers"] = o.h.exposeHeaders
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h["Access-Control-Allow-Methods"] = o.h.allowMethods
		h["Access-Control-Allow-Headers"] = o.h.allowHeaders
		h["Access-Control-Max-Age"] = o.h.maxAge
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h["Allow"] = o.h.allowMethods
		o.fail(w, http.StatusMethodNotAllowed, "method not allowed\n")
		return
	}

	obj, ok := parsePath(r.URL.Path)
	if !ok {
		o.fail(w, http.StatusNotFound, "not found\n")
		return
	}
	st, ok := o.resolver.Resolve(r.Context(), obj.playbackID)
	if !ok {
		o.fail(w, http.StatusNotFound, "not found\n")
		return
	}
	if st.Dir == "" && st.Fetch == nil {
		o.log.Warn("stream has no directory", "playback_id", obj.playbackID)
		o.fail(w, http.StatusNotFound, "not found\n")
		return
	}
	var tok string // "" for a trusted request: nothing to rewrite with
	if st.Signed && (o.trust == nil || !o.trust(r)) {
		tok = requestToken(r)
		if tok == "" {
			o.log.Debug("playback refused", "playback_id", obj.playbackID, "file", obj.name, "reason", "no token")
			o.fail(w, http.StatusForbidden, "forbidden\n")
			return
		}
		if err := o.verified.verify(tok, st.Keys, obj.playbackID, o.now()); err != nil {
			o.log.Debug("playback refused", "playback_id", obj.playbackID, "file", obj.name, "reason", err.Error())
			o.fail(w, http.StatusForbidden, "forbidden\n")
			return
		}
	}

	var q Query
	if obj.kind == kindPlaylist {
		var err error
		if q, err = ParseQuery(r.URL.RawQuery); err != nil {
			o.fail(w, http.StatusBadRequest, "bad request\n")
			return
		}
	}
	var path string
	delta := q.Skip // applied here unless the upstream origin did
	switch {
	case st.Fetch != nil && st.FetchQuery != nil && (q.HasMSN || q.Skip):
		var code int
		if path, code = o.fetchQuery(r.Context(), w, st, obj, q); code != 0 {
			o.fail(w, code, strings.ToLower(http.StatusText(code))+"\n")
			return
		}
		delta = false
	case st.Fetch != nil:
		var code int
		if path, code = o.fetch(r.Context(), w, st, obj); code != 0 {
			o.fail(w, code, strings.ToLower(http.StatusText(code))+"\n")
			return
		}
	default:
		// parsePath admits only plain names and at most one directory.
		path = filepath.Join(st.Dir, filepath.FromSlash(obj.name))
		if obj.kind == kindPlaylist && q.HasMSN {
			body, code := o.hold(r.Context(), st, path, q)
			if code != 0 {
				o.fail(w, code, strings.ToLower(http.StatusText(code))+"\n")
				return
			}
			w.Header()["X-Content-Type-Options"] = o.h.nosniff
			o.writePlaylist(w, r, body, obj, st.Signed, tok, delta)
			return
		}
		if isPart(obj) {
			o.awaitPart(r.Context(), st, path)
		}
	}
	f, fi, ok := o.open(path, obj)
	if !ok {
		o.fail(w, http.StatusNotFound, "not found\n")
		return
	}
	defer f.Close()

	h["X-Content-Type-Options"] = o.h.nosniff
	if obj.kind == kindPlaylist || isStoryboard(obj) && st.Signed && tok != "" {
		o.servePlaylist(w, r, f, fi, obj, st.Signed, tok, delta)
		return
	}
	h["Content-Type"] = o.contentType(obj)
	if st.Signed {
		h["Cache-Control"] = o.h.cacheImmutablePvt
	} else {
		h["Cache-Control"] = o.h.cacheImmutable
	}
	// Range, If-Range, conditional requests and HEAD.
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// fetch asks the stream's Fetch for a local copy of the object. It
// returns the copy's path, or the status to answer with (and sets
// Retry-After for a 503 of an edge too busy to make the object now).
func (o *Origin) fetch(ctx context.Context, w http.ResponseWriter, st Stream, obj object) (string, int) {
	path, err := st.Fetch(ctx, obj.name)
	var busy interface{ RetryAfter() time.Duration }
	switch {
	case err == nil:
		return path, 0
	case errors.Is(err, fs.ErrNotExist):
		return "", http.StatusNotFound
	case errors.As(err, &busy):
		w.Header().Set("Retry-After", strconv.Itoa(max(int(busy.RetryAfter().Round(time.Second)/time.Second), 1)))
		return "", http.StatusServiceUnavailable
	case ctx.Err() != nil:
		return "", http.StatusServiceUnavailable // the viewer left; nobody reads this
	}
	// Debug: every viewer of a stream whose origin died gets here; the
	// fetcher is the one to log a failure once.
	o.log.Debug("fetch hls object", "playback_id", obj.playbackID, "file", obj.name, "err", err)
	return "", http.StatusBadGateway
}

// open opens the object's regular file at path. Anything else (missing,
// a directory, unreadable) is "not there": the caller answers 404, and
// only unexpected failures are logged.
func (o *Origin) open(path string, obj object) (*os.File, fs.FileInfo, bool) {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			o.log.Warn("open hls file", "playback_id", obj.playbackID, "file", obj.name, "err", err)
		}
		return nil, nil, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, false
	}
	return f, fi, true
}

// servePlaylist writes a playlist, rewritten to carry tok when the stream
// is signed and the request had one (a trusted request has none). It
// sends no Last-Modified: a live playlist changes more than once a
// second, finer than the header can say, and a 304 would freeze a player
// on an old playlist.
func (o *Origin) servePlaylist(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo, obj object, signed bool, tok string, delta bool) {
	if fi.Size() > maxPlaylistSize {
		o.log.Error("playlist too large", "playback_id", obj.playbackID, "file", obj.name, "size", fi.Size())
		o.fail(w, http.StatusInternalServerError, "playlist too large\n")
		return
	}
	// ffmpeg renames a finished playlist into place, so the file opened
	// is complete; read to EOF anyway rather than trust the size.
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, maxPlaylistSize)); err != nil {
		o.log.Warn("read playlist", "playback_id", obj.playbackID, "file", obj.name, "err", err)
		o.fail(w, http.StatusNotFound, "not found\n")
		return
	}
	o.writePlaylist(w, r, buf.Bytes(), obj, signed, tok, delta)
}

// writePlaylist writes a playlist's body: the delta update when asked
// for, rewritten to carry tok.
func (o *Origin) writePlaylist(w http.ResponseWriter, r *http.Request, body []byte, obj object, signed bool, tok string, delta bool) {
	if delta {
		body = Delta(body)
	}
	h := w.Header()
	h["Content-Type"] = o.contentType(obj)
	if signed {
		if tok != "" {
			// A verified token holds only base64url bytes and dots: it
			// needs no escaping in a query.
			if obj.kind == kindText {
				body = RewriteStoryboard(body, tokenParam+"="+tok)
			} else {
				body = RewritePlaylist(body, tokenParam+"="+tok)
			}
		}
		h["Cache-Control"] = o.h.cachePlaylistPrivate
	} else {
		h["Cache-Control"] = o.h.cachePlaylist
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// isStoryboard reports whether obj is a storyboard's WebVTT, whose image
// references carry the viewer's token like a playlist's URIs.
func isStoryboard(obj object) bool {
	return obj.kind == kindText && (obj.name == "storyboard.vtt" || strings.HasSuffix(obj.name, "/storyboard.vtt"))
}

func (o *Origin) contentType(obj object) []string {
	switch obj.kind {
	case kindInit:
		return o.h.mp4
	case kindSegment:
		if obj.ext == ".ts" {
			return o.h.segmentTS
		}
		return o.h.segmentFMP4
	case kindText:
		return o.h.vtt
	case kindImage:
		return o.h.jpeg
	}
	return o.h.playlist
}

// fail writes a short plain-text error that no cache keeps: a 404 for the
// next live segment turns into a 200 a moment later.
func (o *Origin) fail(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h["Content-Type"] = o.h.textPlain
	h["Cache-Control"] = o.h.noStore
	h["X-Content-Type-Options"] = o.h.nosniff
	w.WriteHeader(code)
	io.WriteString(w, msg)
}

// requestToken returns the playback token of r: the first token query
// parameter, else an Authorization: Bearer credential.
func requestToken(r *http.Request) string {
	q := r.URL.RawQuery
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != tokenParam || v == "" {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			u, err := url.QueryUnescape(v)
			if err != nil {
				return ""
			}
			v = u
		}
		return v
	}
	auth := r.Header.Get("Authorization")
	if len(auth) > len("Bearer ") && strings.EqualFold(auth[:len("Bearer ")], "Bearer ") {
		return strings.TrimSpace(auth[len("Bearer "):])
	}
	return ""
}
