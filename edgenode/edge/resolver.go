package edge

import (
	"context"

	"github.com/livestreams/livestreams/edgenode/hls"
)

// resolver tells the HLS origin what it may serve: a stream live here, one
// live on another edge (relayed), or what a stream that ended here left.
type resolver struct{ n *Node }

func (r resolver) Resolve(ctx context.Context, playbackID string) (hls.Stream, bool) {
	st, ok := r.resolve(ctx, playbackID)
	if ok && st.Signed {
		// Signing keys revoked (or created) since the stream was looked up
		// apply at once: the control plane pushes them (identity.go).
		st.Keys = r.n.keys.apply(st.Keys)
	}
	return st, ok
}

func (r resolver) resolve(ctx context.Context, playbackID string) (hls.Stream, bool) {
	r.n.mu.Lock()
	p := r.n.byPID[playbackID]
	r.n.mu.Unlock()
	if p != nil && p.live {
		dir := r.n.hlsDir(playbackID)
		return hls.Stream{PlaybackID: playbackID, Signed: p.signed, Keys: p.keys, Dir: dir, Live: true, Changed: r.n.core.Changed(dir)}, true
	}
	// Live on another edge: relay it.
	if r.n.relay != nil {
		if st, ok := r.n.relay.resolve(ctx, playbackID); ok {
			return st, true
		}
	}
	// Ended here and live nowhere else: what it left on disk.
	if p != nil {
		return hls.Stream{PlaybackID: playbackID, Signed: p.signed, Keys: p.keys, Dir: r.n.hlsDir(playbackID)}, true
	}
	// An on-demand asset, from object storage.
	if r.n.vod != nil {
		return r.n.vod.resolve(ctx, playbackID)
	}
	return hls.Stream{}, false
}
