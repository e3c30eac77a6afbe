// Package fleet is the control plane's view of the edges and its routing of
// viewers and creators to them. It merges two sources: the edge records in
// the replicated state (registered through an authenticated QUIC session,
// with a lease the edge renews, and the operator's drain order) and, when
// the node takes part in gossip, the live membership (alive, suspect, dead
// or left within seconds, with load and the streams each edge originates).
// Gossip decides liveness when it knows an edge; the lease decides when it
// does not (a fleet without gossip, such as `livestreams dev`).
//
// Every choice is made from this node's own view, so it works the same on
// every control-plane node, leader or follower.
package fleet

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/routing"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/geoip"
)

// ErrNotLive means the stream has no session on a live edge.
var ErrNotLive = errors.New("stream is not live on any edge")

// Member is one edge as gossip reports it.
type Member struct {
	ID       string
	State    string // alive, suspect, dead, left
	Region   string
	Lat, Lon float64
	HasLoc   bool
	HLSURL   string
	RTMPURL  string
	SRTURL   string
	WHIPURL  string
	Draining bool
	Load     routing.Load
	Streams  []string
}

// Membership is the gossip view; nil when the node takes no part in gossip.
type Membership interface {
	Members() []Member
}

// Config configures a Fleet.
type Config struct {
	Store   *state.Store
	Members Membership       // may be nil
	GeoIP   *geoip.Resolver  // may be nil: no location, routing by region and load
	Options routing.Options  // scoring; zero means routing's defaults
	Now     func() time.Time // for tests
}

// Fleet answers where streams play and where creators publish.
type Fleet struct{ cfg Config }

// New returns a Fleet.
func New(cfg Config) *Fleet {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Fleet{cfg: cfg}
}

// Node is an edge as the fleet sees it, for `livestreams nodes`.
type Node struct {
	ID             string       `json:"id"`
	State          string       `json:"state"`  // alive, suspect, dead, left, expired
	Source         string       `json:"source"` // gossip or lease
	Region         string       `json:"region,omitempty"`
	Lat            float64      `json:"lat"`
	Lon            float64      `json:"lon"`
	HasLocation    bool         `json:"has_location"`
	HLSURL         string       `json:"hls_url,omitempty"`
	RTMPURL        string       `json:"rtmp_url,omitempty"`
	RTMPSURL       string       `json:"rtmps_url,omitempty"`
	SRTURL         string       `json:"srt_url,omitempty"`
	WHIPURL        string       `json:"whip_url,omitempty"`
	Draining       bool         `json:"draining"`
	Load           routing.Load `json:"load"`
	Streams        []string     `json:"streams"`
	LeaseExpiresAt time.Time    `json:"lease_expires_at"`
}

// Routable reports whether new traffic may go to the node.
func (n Node) Routable() bool { return n.State == "alive" && !n.Draining }

// IngestURL is the node's public URL for the ingest protocol proto
// (protocol.IngestRTMP, IngestRTMPS, IngestSRT or IngestWHIP), "" when it
// does not offer it; for proto "" it is the first URL it offers of
// those, in that order.
func (n Node) IngestURL(proto string) string {
	offers := [][2]string{{protocol.IngestRTMP, n.RTMPURL}, {protocol.IngestRTMPS, n.RTMPSURL},
		{protocol.IngestSRT, n.SRTURL}, {protocol.IngestWHIP, n.WHIPURL}}
	for _, o := range offers {
		if o[1] != "" && (proto == "" || proto == o[0]) {
			return o[1]
		}
	}
	return ""
}

// Nodes lists every registered edge, merged with its gossip state.
func (f *Fleet) Nodes() ([]Node, error) {
	var edges []state.Edge
	if err := f.cfg.Store.View(func(tx *state.Tx) error {
		var err error
		edges, err = tx.Edges()
		return err
	}); err != nil {
		return nil, err
	}
	gossip := map[string]Member{}
	if f.cfg.Members != nil {
		for _, m := range f.cfg.Members.Members() {
			gossip[m.ID] = m
		}
	}
	now := f.cfg.Now()
	out := make([]Node, 0, len(edges))
	for _, e := range edges {
		n := Node{ID: e.ID, Region: e.Region, Lat: e.Lat, Lon: e.Lon, HasLocation: e.Lat != 0 || e.Lon != 0,
			HLSURL: e.HLSURL, RTMPURL: e.RTMPURL, RTMPSURL: e.RTMPSURL, SRTURL: e.SRTURL, WHIPURL: e.WHIPURL,
			Draining: e.Draining, LeaseExpiresAt: e.LeaseExpiresAt, Streams: []string{}}
		if m, ok := gossip[e.ID]; ok {
			n.Source, n.State = "gossip", m.State
			n.Draining = n.Draining || m.Draining
			n.Load = m.Load
			if m.Streams != nil {
				n.Streams = m.Streams
			}
			if m.HasLoc {
				n.Lat, n.Lon, n.HasLocation = m.Lat, m.Lon, true
			}
			if m.Region != "" {
				n.Region = m.Region
			}
		} else {
			n.Source, n.State = "lease", "alive"
			if !now.Before(e.LeaseExpiresAt) {
				n.State = "expired"
			}
		}
		if !n.HasLocation {
			n.Lat, n.Lon, n.HasLocation = f.locate(n.HLSURL)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// locate places an edge configured without coordinates where GeoIP puts
// the address of its public URL, when that is an IP address.
func (f *Fleet) locate(publicURL string) (lat, lon float64, ok bool) {
	u, err := url.Parse(publicURL)
	if err != nil {
		return 0, 0, false
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return 0, 0, false
	}
	loc, found := f.cfg.GeoIP.Lookup(ip)
	return loc.Lat, loc.Lon, found
}

// Route is a routing answer: where to go and why.
type Route struct {
	EdgeID string `json:"edge_id"`
	// URL is the master playlist on the edge (playback) or the URL of
	// the ingest protocol asked for (ingest).
	URL    string           `json:"url"`
	RTMP   string           `json:"rtmp_url,omitempty"`
	RTMPS  string           `json:"rtmps_url,omitempty"`
	SRT    string           `json:"srt_url,omitempty"`
	WHIP   string           `json:"whip_url,omitempty"`
	Client ClientView       `json:"client"`
	Scores []routing.Scored `json:"candidates"`
	Reason string           `json:"fallback,omitempty"`
}

// ClientView is who was routed, as the GeoIP database saw them.
type ClientView struct {
	IP       string          `json:"ip"`
	Known    bool            `json:"known"`
	Location *geoip.Location `json:"location,omitempty"`
}

func (f *Fleet) client(ip netip.Addr) (routing.Client, ClientView) {
	v := ClientView{}
	if ip.IsValid() {
		v.IP = ip.String()
	}
	loc, ok := f.cfg.GeoIP.Lookup(ip)
	if ok {
		v.Known, v.Location = true, &loc
	}
	return routing.Client{Loc: loc, Known: ok}, v
}

func candidate(n Node) routing.Candidate {
	return routing.Candidate{ID: n.ID, Region: n.Region, Lat: n.Lat, Lon: n.Lon, HasLocation: n.HasLocation,
		Alive: n.State == "alive", Draining: n.Draining, Load: n.Load}
}

// origin returns the edge holding the stream's live session.
func (f *Fleet) origin(s state.Stream) (string, error) {
	if s.CurrentSessionID == "" {
		return "", ErrNotLive
	}
	var edgeID string
	err := f.cfg.Store.View(func(tx *state.Tx) error {
		sess, err := tx.Session(s.CurrentSessionID)
		edgeID = sess.EdgeID
		return err
	})
	if err != nil || edgeID == "" {
		return "", ErrNotLive
	}
	return edgeID, nil
}

// Playback chooses the edge a viewer at ip plays s from: the best alive,
// non-draining edge by distance and load; any edge can serve a stream it
// does not originate by relaying it from the origin. A stream whose origin
// edge is not alive is not live.
func (f *Fleet) Playback(ctx context.Context, s state.Stream, ip netip.Addr) (Route, error) {
	originID, err := f.origin(s)
	if err != nil {
		return Route{}, err
	}
	nodes, err := f.Nodes()
	if err != nil {
		return Route{}, err
	}
	var cands []routing.Candidate
	originAlive := false
	for _, n := range nodes {
		if n.HLSURL == "" {
			continue
		}
		c := candidate(n)
		c.URL = strings.TrimRight(n.HLSURL, "/") + "/hls/" + url.PathEscape(s.PlaybackID) + "/master.m3u8"
		if n.ID == originID {
			c.IsOrigin = true
			originAlive = n.State == "alive"
		}
		cands = append(cands, c)
	}
	if !originAlive {
		return Route{}, ErrNotLive
	}
	return f.choose(ip, cands, nodes)
}

// VOD chooses the edge a viewer at ip plays an on-demand asset from: the
// best alive, non-draining edge by distance and load. Any edge serves any
// asset (it reads the asset's objects from object storage), so there is no
// origin. The route's URL is the asset's master playlist on that edge,
// HLSURL/hls/{playback_id}/master.m3u8; its thumbnail and storyboard are
// beside it. routing.ErrNoEdge (wrapped) when no edge can take the viewer.
func (f *Fleet) VOD(ctx context.Context, playbackID string, ip netip.Addr) (Route, error) {
	nodes, err := f.Nodes()
	if err != nil {
		return Route{}, err
	}
	var cands []routing.Candidate
	for _, n := range nodes {
		if n.HLSURL == "" {
			continue
		}
		c := candidate(n)
		c.URL = strings.TrimRight(n.HLSURL, "/") + "/hls/" + url.PathEscape(playbackID) + "/master.m3u8"
		cands = append(cands, c)
	}
	return f.choose(ip, cands, nodes)
}

// Ingest chooses the edge a creator at ip publishes to over proto
// (protocol.IngestRTMP, IngestRTMPS, IngestSRT or IngestWHIP): the best of
// the edges offering it, or for proto "" of the edges offering any. The
// route carries every ingest URL the chosen edge offers.
func (f *Fleet) Ingest(ctx context.Context, ip netip.Addr, proto string) (Route, error) {
	nodes, err := f.Nodes()
	if err != nil {
		return Route{}, err
	}
	var cands []routing.Candidate
	for _, n := range nodes {
		u := n.IngestURL(proto)
		if u == "" {
			continue
		}
		c := candidate(n)
		c.URL = u
		cands = append(cands, c)
	}
	return f.choose(ip, cands, nodes)
}

func (f *Fleet) choose(ip netip.Addr, cands []routing.Candidate, nodes []Node) (Route, error) {
	client, view := f.client(ip)
	d, err := routing.Choose(client, cands, f.cfg.Options)
	r := Route{Client: view, Scores: d.Scores, Reason: d.Fallback}
	if err != nil {
		return r, err
	}
	r.EdgeID, r.URL = d.Chosen.ID, d.Chosen.URL
	for _, n := range nodes {
		if n.ID == d.Chosen.ID {
			r.RTMP, r.RTMPS, r.SRT, r.WHIP = n.RTMPURL, n.RTMPSURL, n.SRTURL, n.WHIPURL
		}
	}
	return r, nil
}
