package edge

// Edge-to-edge relay. A viewer routed to this edge for a stream another
// edge originates is served from a local cache that this edge fills from
// the origin edge:
//
//   - The origin is found by gossip (the edge that advertises the playback
//     id); the stream's policy and verification keys come from the control
//     plane. Token checks happen here, on the edge the viewer talks to,
//     before anything is fetched, so an unauthenticated viewer cannot make
//     the edge pull from the origin.
//   - The relay authenticates to the origin as a fleet member (a secret
//     derived from the gossip key) on /relay/, which serves the raw files
//     of streams the origin is publishing: no token, no rewriting.
//   - Segments and init segments are immutable (their names are unique per
//     session), so once cached they are served until the stream ends;
//     playlists are refetched when older than a quarter of a segment.
//   - Concurrent misses for the same object cause one upstream request:
//     the others wait for it.
//   - If the origin edge dies, gossip stops naming it within seconds and
//     playlists are no longer served: viewers see the stream end, not a
//     stale loop.
//
// Plain HTTP/1.1 with keep-alive between edges: the bytes are fMP4 segments
// already compressed, the connection pool makes requests cheap, and HTTP/3
// would add a second QUIC stack to operate for no gain on a private
// network. Put TLS in front (or a private network) across the Internet.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/hls"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/token"
)

const (
	relayPrefix = "/relay/"
	// playlistTTL is how long a relayed playlist is reused: a quarter of
	// the 1 s low-latency segment, so a relay adds little delay.
	playlistTTL = 250 * time.Millisecond
	// infoTTL is how long the control plane's answer about a playback id
	// (policy, keys) is reused.
	infoTTL = 5 * time.Second
	// maxObject bounds one relayed object.
	maxObject = 64 << 20
)

var errNotRelayed = errors.New("stream is not live on any edge")

// relaySecret is what fleet members show each other on /relay/.
func relaySecret(gossipKey string) string {
	m := hmac.New(sha256.New, []byte(gossipKey))
	io.WriteString(m, "livestreams edge relay v1")
	return hex.EncodeToString(m.Sum(nil))
}

// relayed is one stream this edge relays.
type relayed struct {
	origin   string // origin edge's HLS base URL
	signed   bool
	keys     token.Keys
	infoAt   time.Time
	mu       sync.Mutex
	fetched  map[string]time.Time // object name -> when fetched
	inflight map[string]*fetch
}

type fetch struct {
	done chan struct{}
	err  error
}

type relay struct {
	n      *Node
	client *http.Client
	secret string

	mu      sync.Mutex
	streams map[string]*relayed
	// upstream counts requests sent to origins; served, requests answered
	// as an origin (tests, metrics).
	upstream map[string]int
	served   map[string]int
}

func newRelay(n *Node) *relay {
	return &relay{n: n, secret: relaySecret(n.cfg.GossipKey), streams: map[string]*relayed{}, upstream: map[string]int{}, served: map[string]int{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}}
}

func (n *Node) relayDir(playbackID string) string {
	return filepath.Join(n.cfg.DataDir, "relay", playbackID)
}

// serveOrigin answers a fleet member's /relay/{pid}/{name}: the raw file of
// a stream this edge originates.
func (n *Node) serveRelayOrigin(w http.ResponseWriter, r *http.Request) {
	if n.relay == nil || !hmac.Equal([]byte(r.Header.Get("Authorization")), []byte("Bearer "+n.relay.secret)) {
		http.Error(w, "forbidden\n", http.StatusForbidden)
		return
	}
	pid, name, _, ok := hls.SplitPath("/hls/" + strings.TrimPrefix(r.URL.Path, relayPrefix))
	if !ok {
		http.NotFound(w, r)
		return
	}
	n.mu.Lock()
	p := n.byPID[pid]
	local := p != nil && p.dir == "" && p.live
	n.mu.Unlock()
	if !local {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(n.hlsDir(pid), filepath.FromSlash(name)))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	n.relay.mu.Lock()
	n.relay.served[pid+"/"+name]++
	n.relay.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	io.Copy(w, f)
}

// prepare makes sure the object a viewer asked for is in the relay cache,
// after checking the viewer may have it. It returns false when it has
// answered the request itself (an error).
func (rl *relay) prepare(w http.ResponseWriter, r *http.Request, pid, name string, playlist bool) bool {
	st, err := rl.stream(r.Context(), pid)
	if err != nil {
		http.Error(w, "not found\n", http.StatusNotFound)
		return false
	}
	if st.signed {
		tok := r.URL.Query().Get("token")
		if _, err := token.Verify(tok, st.keys, pid, time.Now()); err != nil {
			http.Error(w, "forbidden\n", http.StatusForbidden)
			return false
		}
	}
	if err := rl.fetch(r.Context(), pid, st, name, playlist); err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, os.ErrNotExist) {
			status = http.StatusNotFound
		}
		http.Error(w, http.StatusText(status)+"\n", status)
		return false
	}
	return true
}

// stream returns what is known of a relayed stream, asking gossip where it
// originates and the control plane how it is protected.
func (rl *relay) stream(ctx context.Context, pid string) (*relayed, error) {
	n := rl.n
	origin, ok := n.gossip.Origin(pid)
	if !ok || origin.NodeID == n.cfg.NodeID || origin.HLSURL == "" {
		rl.forget(pid)
		return nil, errNotRelayed
	}
	rl.mu.Lock()
	st := rl.streams[pid]
	rl.mu.Unlock()
	if st != nil && st.origin == origin.HLSURL && time.Since(st.infoAt) < infoTTL {
		return st, nil
	}
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var info protocol.PlaybackInfoReply
	if err := n.client.Call(ictx, protocol.TypePlaybackInfo, protocol.PlaybackInfoRequest{PlaybackID: pid}, &info); err != nil {
		return nil, err
	}
	keys := token.Keys{}
	for _, k := range info.SigningKeys {
		if pub, err := token.ParsePublicPEM(k.PublicPEM); err == nil {
			keys[k.ID] = pub
		}
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if cur := rl.streams[pid]; cur != nil && cur.origin == origin.HLSURL {
		cur.signed, cur.keys, cur.infoAt = info.PlaybackPolicy == "signed", keys, time.Now()
		return cur, nil
	}
	st = &relayed{origin: origin.HLSURL, signed: info.PlaybackPolicy == "signed", keys: keys, infoAt: time.Now(),
		fetched: map[string]time.Time{}, inflight: map[string]*fetch{}}
	rl.streams[pid] = st
	os.RemoveAll(n.relayDir(pid)) // another origin (a new session): start clean
	n.mu.Lock()
	n.byPID[pid] = &playback{signed: st.signed, keys: keys, live: true, at: time.Now(), dir: n.relayDir(pid)}
	n.mu.Unlock()
	return st, nil
}

// forget drops a stream that is no longer relayed from here.
func (rl *relay) forget(pid string) {
	rl.mu.Lock()
	_, had := rl.streams[pid]
	delete(rl.streams, pid)
	rl.mu.Unlock()
	if had {
		n := rl.n
		n.mu.Lock()
		if p := n.byPID[pid]; p != nil && p.dir != "" {
			delete(n.byPID, pid)
		}
		n.mu.Unlock()
		os.RemoveAll(n.relayDir(pid))
	}
}

// fetch fills the cache with one object, once for all concurrent callers.
func (rl *relay) fetch(ctx context.Context, pid string, st *relayed, name string, playlist bool) error {
	st.mu.Lock()
	if at, ok := st.fetched[name]; ok && (!playlist || time.Since(at) < playlistTTL) {
		st.mu.Unlock()
		return nil
	}
	f := st.inflight[name]
	if f == nil {
		f = &fetch{done: make(chan struct{})}
		st.inflight[name] = f
		go func() {
			// Not tied to one viewer's request: the others wait for it.
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := rl.download(fctx, pid, st.origin, name)
			cancel()
			st.mu.Lock()
			if err == nil {
				st.fetched[name] = time.Now()
			}
			delete(st.inflight, name)
			st.mu.Unlock()
			f.err = err
			close(f.done)
		}()
	}
	st.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (rl *relay) download(ctx context.Context, pid, origin, name string) error {
	rl.mu.Lock()
	rl.upstream[pid+"/"+name]++
	rl.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(origin, "/")+relayPrefix+pid+"/"+name, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+rl.secret)
	resp, err := rl.client.Do(req)
	if err != nil {
		return fmt.Errorf("relay from origin: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("relay %s: %w", name, os.ErrNotExist)
	case resp.StatusCode == http.StatusForbidden:
		return errors.New("relay: the origin edge refused this edge's relay secret (different --gossip-key?)")
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("relay from origin: %s", resp.Status)
	case resp.ContentLength > maxObject:
		return fmt.Errorf("relay: %s is %d bytes, over the %d limit", name, resp.ContentLength, maxObject)
	}
	path := filepath.Join(rl.n.relayDir(pid), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".relay-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, io.LimitReader(resp.Body, maxObject+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("relay %s: %w", name, err)
	}
	return nil
}

// UpstreamRequests reports how many times this edge fetched pid/name from
// an origin edge.
func (n *Node) UpstreamRequests(pid, name string) int {
	if n.relay == nil {
		return 0
	}
	n.relay.mu.Lock()
	defer n.relay.mu.Unlock()
	return n.relay.upstream[pid+"/"+name]
}

// RelayServed reports how many times this edge, as the origin, sent
// pid/name to another edge.
func (n *Node) RelayServed(pid, name string) int {
	if n.relay == nil {
		return 0
	}
	n.relay.mu.Lock()
	defer n.relay.mu.Unlock()
	return n.relay.served[pid+"/"+name]
}
