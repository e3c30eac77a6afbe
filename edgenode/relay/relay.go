package relay

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestreams/livestreams/edgenode/hls"
)

const (
	// DefaultMaxCacheBytes bounds the cache when Config.MaxCacheBytes is 0:
	// about ten minutes of a 3-rendition ladder for each of a dozen
	// streams.
	DefaultMaxCacheBytes = 1 << 30
	// DefaultMaxObjectBytes bounds one object when Config.MaxObjectBytes is
	// 0: a 2-second 1080p segment is 1-2 MB, so anything near this is not
	// a segment.
	DefaultMaxObjectBytes = 64 << 20

	defaultTimeout         = 10 * time.Second
	defaultPlaylistTimeout = 3 * time.Second
	// errorTTL is how long a failed fetch is answered from memory, so a
	// dead origin sees one request per object per errorTTL rather than
	// one per viewer request.
	errorTTL = 250 * time.Millisecond
	// maxFailures bounds the failures remembered before expired ones are
	// swept.
	maxFailures = 1024
)

// ErrNotFound is returned (wrapped) when the origin edge does not have the
// object, or the name is not one the origin would serve. It is also
// fs.ErrNotExist, which hls.Origin answers with a 404.
var ErrNotFound error = notFound{}

// ErrUpstream is returned (wrapped, with the cause) when the origin edge
// could not be asked or answered with an error.
var ErrUpstream = errors.New("origin edge failed")

type notFound struct{}

func (notFound) Error() string        { return "not found on the origin edge" }
func (notFound) Is(target error) bool { return target == fs.ErrNotExist }

var errClosed = fmt.Errorf("relay is closed: %w", ErrUpstream)

// Config configures a Relay. CacheDir is required.
type Config struct {
	// CacheDir holds the cached objects. It is the relay's: New removes
	// what an earlier process left in it. One relay per directory.
	CacheDir string
	// Client makes the upstream requests; nil is an HTTP/1.1 keep-alive
	// client with short dial timeouts that follows no redirects.
	Client *http.Client
	// AuthHeader returns the Authorization value sent with every upstream
	// request ("Bearer <cluster relay secret>"): the origin edge trusts it
	// instead of a viewer token. Nil or "" sends none.
	AuthHeader func() string
	Logger     *slog.Logger     // nil discards
	Now        func() time.Time // nil is time.Now

	MaxCacheBytes  int64 // 0 is DefaultMaxCacheBytes
	MaxObjectBytes int64 // 0 is DefaultMaxObjectBytes; at most MaxCacheBytes

	// PlaylistTTL is how long a playlist is reused; 0 derives it from each
	// playlist: a quarter of its #EXT-X-TARGETDURATION, within 100 ms-3 s.
	PlaylistTTL time.Duration
	// Open, when set, is the upstream instead of HTTP: it opens object
	// name of playbackID from origin (whatever string Fetch was given,
	// such as an asset's object-store prefix). A missing object is an
	// error that is fs.ErrNotExist (or wraps ErrNotFound).
	Open func(ctx context.Context, origin, playbackID, name string) (io.ReadCloser, error)

	// Timeout bounds one upstream fetch of a segment (0 is 10 s);
	// PlaylistTimeout one of a playlist (0 is 3 s), which is how long
	// viewers of a stream whose origin hangs wait before they get an
	// error.
	Timeout, PlaylistTimeout time.Duration
}

// Relay fetches objects of streams other edges originate into a local
// cache. It is safe for concurrent use.
type Relay struct {
	dir     string // CacheDir/objects: one directory per playback id
	trash   string // CacheDir: where purged directories go to be removed
	client  *http.Client
	open    func(ctx context.Context, origin, playbackID, name string) (io.ReadCloser, error)
	auth    func() string
	log     *slog.Logger
	now     func() time.Time
	maxSize int64
	maxObj  int64
	ttl     time.Duration
	timeout time.Duration
	plTime  time.Duration

	// ctx is the parent of upstream requests, which belong to no viewer;
	// Close cancels it and waits for them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	objects map[key]*entry
	lru     list.List // of *entry, most recently used at the front
	size    int64     // bytes of the objects in lru
	flights map[key]*flight
	// versions are the cached answers to blocking reloads of each
	// playlist (by key without directives): each is fetched once, and
	// dropped once expired when the next version comes.
	versions map[key][]*entry
	failures map[key]failure
	down     map[string]bool // origins whose last request failed, for logging
	purges   int

	hits, upstream, coalesced, upstreamErrors, evictions atomic.Int64
}

// key names one object of one stream; q is a playlist's LL-HLS
// delivery directives (zero for a plain request): each blocking reload
// (msn, part, skip) is its own object, fetched once however many
// viewers wait for it.
type key struct {
	playbackID, name string
	q                hls.Query
}

// entry is one complete object in the cache.
type entry struct {
	key     key
	path    string
	size    int64
	expires time.Time // zero for immutable objects
	elem    *list.Element
}

// flight is one upstream request and the callers waiting for it.
type flight struct {
	done   chan struct{}
	path   string
	err    error
	purged bool // the stream was purged meanwhile: do not cache
}

// failure is a failed fetch, answered from memory until expires.
type failure struct {
	err     error
	expires time.Time
}

// New returns a Relay and empties what an earlier process left in
// cfg.CacheDir. It panics if cfg.CacheDir is empty, a programming error.
func New(cfg Config) *Relay {
	if cfg.CacheDir == "" {
		panic("relay: Config.CacheDir is empty")
	}
	if cfg.Client == nil {
		cfg.Client = newClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxCacheBytes <= 0 {
		cfg.MaxCacheBytes = DefaultMaxCacheBytes
	}
	if cfg.MaxObjectBytes <= 0 {
		cfg.MaxObjectBytes = DefaultMaxObjectBytes
	}
	cfg.MaxObjectBytes = min(cfg.MaxObjectBytes, cfg.MaxCacheBytes)
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.PlaylistTimeout <= 0 {
		cfg.PlaylistTimeout = defaultPlaylistTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{
		dir:      filepath.Join(cfg.CacheDir, "objects"),
		trash:    cfg.CacheDir,
		client:   cfg.Client,
		open:     cfg.Open,
		auth:     cfg.AuthHeader,
		log:      cfg.Logger,
		now:      cfg.Now,
		maxSize:  cfg.MaxCacheBytes,
		maxObj:   cfg.MaxObjectBytes,
		ttl:      cfg.PlaylistTTL,
		timeout:  cfg.Timeout,
		plTime:   cfg.PlaylistTimeout,
		ctx:      ctx,
		cancel:   cancel,
		objects:  map[key]*entry{},
		flights:  map[key]*flight{},
		versions: map[key][]*entry{},
		failures: map[key]failure{},
		down:     map[string]bool{},
	}
	r.clearDisk()
	return r
}

// clearDisk removes the objects and half-purged directories of an earlier
// process: nothing else in CacheDir, in case it was pointed somewhere
// shared.
func (r *Relay) clearDisk() {
	if err := os.RemoveAll(r.dir); err != nil {
		r.log.Warn("clear relay cache", "dir", r.dir, "err", err)
	}
	des, _ := os.ReadDir(r.trash)
	for _, de := range des {
		if strings.HasPrefix(de.Name(), purgePrefix) {
			os.RemoveAll(filepath.Join(r.trash, de.Name()))
		}
	}
}

// Close cancels the upstream requests in flight, waits for them, and makes
// every later Fetch fail. The cache stays on disk for New to clear.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	return nil
}

// Fetch makes sure object name (relative to the stream, as in a request
// path: "720p/seg_00001.m4s") of stream playbackID is in the cache, and
// returns the path of the cached file. originBaseURL is the origin edge's
// HLS base ("https://edge-a.example:8443"; the object is at
// {originBaseURL}/hls/{playbackID}/{name}).
//
// Concurrent calls for one object share one upstream request. If ctx ends
// first Fetch returns ctx's error, and the request carries on for the
// others. Errors wrap ErrNotFound or ErrUpstream.
func (r *Relay) Fetch(ctx context.Context, originBaseURL, playbackID, name string) (string, error) {
	return r.FetchQuery(ctx, originBaseURL, playbackID, name, hls.Query{})
}

// FetchQuery is Fetch for a playlist asked with LL-HLS delivery
// directives q: the origin edge is asked with them (and holds the
// request until the playlist has what q names), once for all the viewers
// asking the same q at the same time.
func (r *Relay) FetchQuery(ctx context.Context, originBaseURL, playbackID, name string, q hls.Query) (string, error) {
	if !validObject(playbackID, name) || q != (hls.Query{}) && !isPlaylist(name) {
		return "", fmt.Errorf("relay %q/%q: invalid object name: %w", playbackID, name, ErrNotFound)
	}
	k := key{playbackID, name, q}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return "", errClosed
	}
	now := r.now()
	if e := r.objects[k]; e != nil {
		if e.expires.IsZero() || now.Before(e.expires) {
			r.lru.MoveToFront(e.elem)
			r.mu.Unlock()
			r.hits.Add(1)
			return e.path, nil
		}
		// An expired playlist is never served again; the refresh
		// replaces its file.
		r.drop(e)
	}
	f := r.flights[k]
	if f != nil {
		r.coalesced.Add(1)
	} else {
		if fl, ok := r.failures[k]; ok {
			if now.Before(fl.expires) {
				r.mu.Unlock()
				return "", fl.err
			}
			delete(r.failures, k)
		}
		f = &flight{done: make(chan struct{})}
		r.flights[k] = f
		r.upstream.Add(1)
		r.wg.Add(1)
		go r.fly(k, originBaseURL, f)
	}
	r.mu.Unlock()

	select {
	case <-f.done:
		return f.path, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("relay %s/%s: %w", playbackID, name, ctx.Err())
	}
}

// fly runs one upstream request and settles its flight.
func (r *Relay) fly(k key, origin string, f *flight) {
	defer r.wg.Done()
	path := filepath.Join(r.dir, k.playbackID, filepath.FromSlash(k.name))
	if k.q != (hls.Query{}) {
		path += fmt.Sprintf(".%d.%d.%t.%t.%t", k.q.MSN, k.q.Part, k.q.HasMSN, k.q.HasPart, k.q.Skip)
	}
	start := r.now()
	size, ttl, err := r.download(k, origin, path)
	if err != nil {
		err = fmt.Errorf("relay %s/%s from %s: %w", k.playbackID, k.name, origin, err)
	}

	r.mu.Lock()
	delete(r.flights, k)
	switch {
	case err == nil && f.purged:
		os.Remove(path) // in a directory made after the purge, or already gone
		err = fmt.Errorf("relay %s/%s: stream purged while fetching: %w", k.playbackID, k.name, ErrNotFound)
	case err == nil:
		e := &entry{key: k, path: path, size: size}
		if ttl > 0 {
			e.expires = start.Add(ttl)
		}
		r.insert(e)
		if k.q != (hls.Query{}) {
			r.addVersion(e, start)
		}
	default:
		if isPlaylist(k.name) {
			// The expired copy a refresh would have replaced: nothing
			// serves it now.
			os.Remove(path)
		}
		if r.closed {
			break
		}
		if len(r.failures) >= maxFailures {
			for fk, fl := range r.failures {
				if !start.Before(fl.expires) {
					delete(r.failures, fk)
				}
			}
		}
		if len(r.failures) < maxFailures {
			r.failures[k] = failure{err: err, expires: r.now().Add(errorTTL)}
		}
	}
	r.noteOrigin(origin, err)
	r.mu.Unlock()

	if err == nil {
		f.path = path
	} else {
		f.err = err
		if !errors.Is(err, ErrNotFound) {
			r.upstreamErrors.Add(1)
		}
		r.log.Debug("relay fetch failed", "playback_id", k.playbackID, "file", k.name, "origin", origin, "err", err)
	}
	close(f.done)
}

// noteOrigin logs when an origin edge starts and stops failing, rather
// than once per object. A 404 is an answer, not a failure.
func (r *Relay) noteOrigin(origin string, err error) {
	if r.closed {
		return // failures are the relay's own
	}
	failed := err != nil && !errors.Is(err, ErrNotFound)
	switch {
	case failed && !r.down[origin]:
		r.down[origin] = true
		r.log.Warn("origin edge failing", "origin", origin, "err", err)
	case !failed && r.down[origin]:
		delete(r.down, origin)
		r.log.Info("origin edge answering again", "origin", origin)
	}
}

// insert adds e to the cache and evicts the least recently used objects
// beyond the byte bound. The caller holds r.mu.
func (r *Relay) insert(e *entry) {
	if old := r.objects[e.key]; old != nil {
		r.drop(old) // the file itself was replaced by the rename
	}
	e.elem = r.lru.PushFront(e)
	r.objects[e.key] = e
	r.size += e.size
	for r.size > r.maxSize && r.lru.Len() > 1 {
		old := r.lru.Back().Value.(*entry)
		r.drop(old)
		// Under r.mu, so that a new fetch of the same object cannot
		// rename its file into place before this removes the old one.
		// A viewer already reading the file keeps its open descriptor.
		if err := os.Remove(old.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.log.Warn("evict relayed object", "path", old.path, "err", err)
		}
		r.evictions.Add(1)
	}
}

// addVersion records e, the answer to a blocking reload, among its
// playlist's versions, and removes the versions that expired before now:
// a stream followed part by part makes three a second, which would
// otherwise wait for the byte bound to go. The caller holds r.mu.
func (r *Relay) addVersion(e *entry, now time.Time) {
	pl := key{playbackID: e.key.playbackID, name: e.key.name}
	old := r.versions[pl]
	kept := old[:0]
	for _, v := range old {
		switch {
		case r.objects[v.key] != v: // evicted or replaced already
		case !now.Before(v.expires):
			r.drop(v)
			os.Remove(v.path)
		default:
			kept = append(kept, v)
		}
	}
	clear(old[len(kept):])
	r.versions[pl] = append(kept, e)
}

// drop forgets e, leaving its file. The caller holds r.mu.
func (r *Relay) drop(e *entry) {
	r.lru.Remove(e.elem)
	delete(r.objects, e.key)
	r.size -= e.size
}

const purgePrefix = ".purging-"

// Purge forgets every cached object of playbackID and removes its files,
// for a stream that ended or moved to another origin. A fetch in flight
// for it completes for its waiters but is not cached.
func (r *Relay) Purge(playbackID string) {
	// A playback id that could not name an object names no directory
	// either; this keeps "../x" from reaching the file system.
	if !validObject(playbackID, "master.m3u8") {
		return
	}
	r.mu.Lock()
	for el := r.lru.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*entry); e.key.playbackID == playbackID {
			r.drop(e)
		}
		el = next
	}
	for k, f := range r.flights {
		if k.playbackID == playbackID {
			f.purged = true
		}
	}
	for k := range r.failures {
		if k.playbackID == playbackID {
			delete(r.failures, k)
		}
	}
	for k := range r.versions {
		if k.playbackID == playbackID {
			delete(r.versions, k)
		}
	}
	// Renamed under r.mu, removed outside it: a long stream has thousands
	// of files, and a fetch that starts now gets a fresh directory.
	trash := filepath.Join(r.trash, purgePrefix+strconv.Itoa(r.purges))
	r.purges++
	err := os.Rename(filepath.Join(r.dir, playbackID), trash)
	r.mu.Unlock()
	switch {
	case err == nil:
		if err := os.RemoveAll(trash); err != nil {
			r.log.Warn("purge relayed stream", "playback_id", playbackID, "err", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		r.log.Warn("purge relayed stream", "playback_id", playbackID, "err", err)
	}
	r.log.Debug("relayed stream purged", "playback_id", playbackID)
}

// Stats are the relay's counters since New, and what the cache holds now.
type Stats struct {
	Hits             int64 // Fetch calls answered from the cache
	UpstreamRequests int64 // requests sent to origin edges
	CoalescedWaits   int64 // Fetch calls that waited for another's request
	UpstreamErrors   int64 // upstream requests that failed (a 404 is not a failure)
	Evictions        int64 // objects removed to stay within MaxCacheBytes
	Objects          int   // objects in the cache
	Bytes            int64 // their size
}

// Stats returns the relay's counters.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	objects, size := r.lru.Len(), r.size
	r.mu.Unlock()
	return Stats{
		Hits:             r.hits.Load(),
		UpstreamRequests: r.upstream.Load(),
		CoalescedWaits:   r.coalesced.Load(),
		UpstreamErrors:   r.upstreamErrors.Load(),
		Evictions:        r.evictions.Load(),
		Objects:          objects,
		Bytes:            size,
	}
}

// validObject reports whether name, relative to the directory of
// playbackID, is an object hls.Origin serves, validated as the origin
// validates a request path: so the cache never holds, or writes outside
// the stream's directory, a name the origin would refuse.
func validObject(playbackID, name string) bool {
	pid, n, _, ok := hls.SplitPath("/hls/" + playbackID + "/" + name)
	// A '/' in playbackID would shift the split: compare both halves.
	return ok && pid == playbackID && n == name
}

func isPlaylist(name string) bool { return strings.HasSuffix(name, ".m3u8") }
