package edge

import (
	"context"

	"github.com/livestreams/livestreams/edgenode/hls"
)

// resolver tells the HLS origin what it may serve: a playback id this edge
// has originated, with its policy and the org's verification keys.
type resolver struct{ n *Node }

func (r resolver) Resolve(ctx context.Context, playbackID string) (hls.Stream, bool) {
	r.n.mu.Lock()
	p := r.n.byPID[playbackID]
	r.n.mu.Unlock()
	if p == nil {
		return hls.Stream{}, false
	}
	dir := p.dir
	if dir == "" {
		dir = r.n.hlsDir(playbackID)
	}
	return hls.Stream{PlaybackID: playbackID, Signed: p.signed, Keys: p.keys, Dir: dir, Live: p.live}, true
}
