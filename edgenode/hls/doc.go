// Package hls is the edge's HLS origin: it serves the playlists and
// segments ffmpeg writes for a playback id, over HTTP, to players.
//
// An Origin answers GET and HEAD for /hls/{playback_id}/{file}, where file
// is master.m3u8, a variant playlist (720p.m3u8 or 720p/index.m3u8: at
// most one directory level, the variant's name), an fMP4 init segment
// (init_0.mp4), a media segment (.m4s, or .ts), a WebVTT file or a JPEG.
// The request path is validated byte by byte before it comes near the file
// system, and every file-system failure is a 404: a player polling for the
// next segment of a live stream gets "not found", never a 500.
//
// For a stream with a signed playback policy every object, playlists and
// segments alike, needs a token (token.Verify) for that playback id, in the
// query (?token=…) or an Authorization: Bearer header; a missing or bad one
// is a 403. A token that verified is remembered (a bounded map, checked
// again for playback id, expiry and key on each use) so that a viewer's
// segment requests do not each pay for an ECDSA verification. Playlists of
// signed streams are rewritten (RewritePlaylist) so that each child URI
// carries the token, which lets players that know nothing about tokens
// follow them.
//
// A stream another edge originates comes with a Fetch function instead of
// a directory (edgenode/relay fills a local cache from the origin edge);
// the origin checks the token first, then serves what Fetch returns like a
// local file. The origin edge recognises the relaying edge's requests with
// Config.TrustRequest: they need no token and get playlists as written.
//
// LL-HLS (RFC 8216bis 6.2.5): a playlist request with _HLS_msn (and
// _HLS_part) is held until the playlist lists that segment or part
// (Stream.Changed wakes it; three target durations at most, then 503; 400
// for one too far ahead), _HLS_skip=YES is answered with a delta playlist
// (Delta), and a request for a part that is not written yet (the preload
// hint's) is held until it is. A relayed stream passes the directives on
// through Stream.FetchQuery, so the origin edge holds one request for all
// the viewers of the relaying edge.
//
// It deliberately does not know where streams come from (a Resolver says),
// fetch from other edges, cache, or write anything: the packager
// (edgenode/llhls) or ffmpeg writes each file under a temporary name and
// renames it, and the origin never serves
// those *.tmp names.
package hls
