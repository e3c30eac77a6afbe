package edge

// Edge-to-edge relay. A viewer routed to this edge for a stream another
// edge originates is served through package relay's cache, filled from the
// origin edge:
//
//   - The origin is the edge gossip names for the playback id; the stream's
//     policy and verification keys come from the control plane (cached a
//     few seconds). The HLS origin checks the viewer's token here, before
//     anything is fetched.
//   - This edge authenticates to the origin with a secret derived from the
//     gossip key, which the origin's HLS server trusts instead of a viewer
//     token (and answers with playlists as written, for us to rewrite).
//   - If the origin edge dies or the stream ends, gossip stops naming it
//     within seconds: the stream is no longer resolved here and its cache
//     is purged, so viewers see it end, not a stale loop.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/hls"
	"github.com/livestreams/livestreams/edgenode/relay"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/gossip"
	"github.com/livestreams/livestreams/shared/token"
)

// infoTTL is how long the control plane's answer about a relayed playback
// id (policy, keys) is reused.
const infoTTL = 5 * time.Second

// relayAuth is the Authorization value fleet members show each other.
func relayAuth(gossipKey string) string {
	m := hmac.New(sha256.New, []byte(gossipKey))
	io.WriteString(m, "livestreams edge relay v1")
	return "Bearer " + hex.EncodeToString(m.Sum(nil))
}

type relayInfo struct {
	origin string // the origin's URL as gossip has it (a change means a new session)
	base   string // the URL fetched from: the origin's registered one
	signed bool
	keys   token.Keys
	at     time.Time
}

// relaying is this edge's side of the relay: the cache and what it knows
// of the streams it relays; plus, as an origin, a count of what it served
// to other edges.
type relaying struct {
	n     *Node
	cache *relay.Relay
	auth  string   // what this edge sends: from the primary gossip key
	auths []string // what it accepts: from every key of the ring (a rotation)

	mu     sync.Mutex
	info   map[string]relayInfo
	served map[string]int
}

func newRelaying(n *Node) *relaying {
	var auths []string
	for _, k := range gossip.KeyStrings(n.cfg.GossipKey) {
		auths = append(auths, relayAuth(k))
	}
	auth := auths[0]
	return &relaying{n: n, auth: auth, auths: auths, info: map[string]relayInfo{}, served: map[string]int{},
		cache: relay.New(relay.Config{CacheDir: filepath.Join(n.cfg.DataDir, "relay"), Logger: n.cfg.Logger,
			AuthHeader: func() string { return auth }})}
}

// trusted reports whether a request comes from another edge relaying.
func (rl *relaying) trusted(r *http.Request) bool {
	got, ok := []byte(r.Header.Get("Authorization")), false
	for _, a := range rl.auths {
		ok = hmac.Equal(got, []byte(a)) || ok
	}
	if !ok {
		return false
	}
	if pid, name, _, ok := hls.SplitPath(r.URL.Path); ok {
		rl.mu.Lock()
		rl.served[pid+"/"+name]++
		rl.mu.Unlock()
	}
	return true
}

// resolve returns the stream as relayed from the edge gossip names as its
// origin, or false when no other edge originates it.
func (rl *relaying) resolve(ctx context.Context, pid string) (hls.Stream, bool) {
	origin, ok := rl.n.gossip.Origin(pid)
	if !ok || origin.NodeID == rl.n.cfg.NodeID || origin.HLSURL == "" {
		rl.forget(pid)
		return hls.Stream{}, false
	}
	rl.mu.Lock()
	info, ok := rl.info[pid]
	rl.mu.Unlock()
	if !ok || info.origin != origin.HLSURL || time.Since(info.at) > infoTTL {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var reply protocol.PlaybackInfoReply
		err := rl.n.client.Call(ictx, protocol.TypePlaybackInfo, protocol.PlaybackInfoRequest{PlaybackID: pid}, &reply)
		cancel()
		if err != nil {
			rl.n.log.Warn("relay: playback info", "playback_id", pid, "err", err)
			return hls.Stream{}, false
		}
		if ok && info.origin != origin.HLSURL {
			rl.cache.Purge(pid) // a new session on another edge: nothing cached applies
		}
		base := origin.HLSURL
		if reply.OriginHLSURL != "" && reply.OriginHLSURL != origin.HLSURL {
			// Gossip is soft state any member can announce; the origin's
			// URL is the one it registered with its certificate.
			rl.n.log.Warn("relay: gossip names another origin URL than the registered one; using the registered one",
				"playback_id", pid, "origin_node_id", reply.OriginNodeID, "gossip_url", origin.HLSURL, "registered_url", reply.OriginHLSURL)
			base = reply.OriginHLSURL
		}
		if reply.OriginNodeID == rl.n.cfg.NodeID {
			return hls.Stream{}, false
		}
		info = relayInfo{origin: origin.HLSURL, base: base, signed: reply.PlaybackPolicy == "signed", keys: rl.n.verifyKeys(reply.SigningKeys), at: time.Now()}
		rl.mu.Lock()
		rl.info[pid] = info
		rl.mu.Unlock()
	}
	base := info.base
	return hls.Stream{PlaybackID: pid, Signed: info.signed, Keys: info.keys, Live: true,
		Fetch: func(ctx context.Context, name string) (string, error) { return rl.cache.Fetch(ctx, base, pid, name) },
		FetchQuery: func(ctx context.Context, name string, q hls.Query) (string, error) {
			return rl.cache.FetchQuery(ctx, base, pid, name, q)
		}}, true
}

// forget drops a stream no longer relayed from here.
func (rl *relaying) forget(pid string) {
	rl.mu.Lock()
	_, had := rl.info[pid]
	delete(rl.info, pid)
	rl.mu.Unlock()
	if had {
		rl.cache.Purge(pid)
	}
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
