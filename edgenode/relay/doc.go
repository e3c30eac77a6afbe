// Package relay lets an edge serve HLS for a stream another edge
// originates: it fetches each object from the origin edge once, however
// many viewers ask, and keeps it in a local cache directory that the
// edge's hls.Origin serves from (through hls.Stream.Fetch).
//
// Segments and init segments are immutable (their names are unique per
// session), so once cached they stay until the cache's byte bound evicts
// the least recently used or the stream is purged. Playlists are kept for
// a quarter of the target duration: a relayed viewer is at most that much
// behind one of the origin, and a playlist is never served past that
// lifetime, so when the origin stops answering viewers see errors (the
// stream ending), not a stale playlist on a loop. Concurrent misses for
// one object, playlist refreshes included, share one upstream request;
// that request belongs to the relay, not to the viewer who caused it, so
// a viewer who leaves does not fail the others.
//
// A low-latency playlist asked with LL-HLS delivery directives (a
// blocking reload: _HLS_msn, _HLS_part, _HLS_skip; FetchQuery) is its
// own object per set of directives: the origin edge is asked with them
// and holds the request until the playlist has that part, once for all
// the viewers waiting for that version. A part asked for before it exists
// is held by the origin edge the same way.
//
// The relay authenticates to the origin edge as a cluster member (an
// Authorization header from Config.AuthHeader); the origin edge accepts
// it with hls.Config.TrustRequest (TrustAuth builds the check), skips the
// viewer token check and serves playlists as written. The relaying edge's
// own hls.Origin checks the viewer's token before it asks the relay for
// anything, and rewrites playlists for its viewers.
//
// Upstream requests are plain HTTP/1.1 with keep-alive (over TLS when the
// origin URL is https): coalescing leaves a handful of requests in flight
// per stream, which a small pool of warm connections carries without
// multiplexing, and separate connections keep a loss on one of them from
// stalling every relayed stream behind one TCP window as a single HTTP/2
// connection would. Pass Config.Client to choose otherwise.
//
// It deliberately does not find origins (gossip does), check viewer tokens
// (hls.Origin does), or remember anything across restarts: New empties
// what an earlier process left in the cache directory.
package relay
