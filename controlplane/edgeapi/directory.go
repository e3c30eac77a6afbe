package edgeapi

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/state"
)

// ErrNotLive means the stream has no session on a live edge.
var ErrNotLive = errors.New("stream is not live on any edge")

// Directory answers where a stream plays and where to publish, from the
// replicated edge records; it works the same on every control-plane node.
// Geography-aware choice comes later; today a live stream plays from its
// origin edge and ingest goes to the edge with the freshest lease.
type Directory struct {
	Node *cluster.Node
	Now  func() time.Time
}

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// PlaybackURL returns the master playlist URL of a live stream on its edge.
func (d *Directory) PlaybackURL(ctx context.Context, s state.Stream) (string, error) {
	if s.CurrentSessionID == "" {
		return "", ErrNotLive
	}
	var edge state.Edge
	err := d.Node.Store().View(func(tx *state.Tx) error {
		sess, err := tx.Session(s.CurrentSessionID)
		if err != nil {
			return err
		}
		edge, err = tx.Edge(sess.EdgeID)
		return err
	})
	if err != nil || edge.HLSURL == "" || d.now().After(edge.LeaseExpiresAt) {
		return "", ErrNotLive
	}
	return strings.TrimRight(edge.HLSURL, "/") + "/hls/" + url.PathEscape(s.PlaybackID) + "/master.m3u8", nil
}

// IngestURL returns the RTMP base URL (rtmp://host:port/live) to publish to.
func (d *Directory) IngestURL(ctx context.Context, s state.Stream) string {
	var edges []state.Edge
	d.Node.Store().View(func(tx *state.Tx) error {
		var err error
		edges, err = tx.Edges()
		return err
	})
	now := d.now()
	live := edges[:0]
	for _, e := range edges {
		if e.RTMPURL != "" && now.Before(e.LeaseExpiresAt) {
			live = append(live, e)
		}
	}
	if len(live) == 0 {
		return ""
	}
	sort.Slice(live, func(i, j int) bool { return live[i].LeaseExpiresAt.After(live[j].LeaseExpiresAt) })
	return live[0].RTMPURL
}
