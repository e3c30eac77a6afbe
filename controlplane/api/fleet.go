package api

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fleet"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/routing"
	"github.com/livestreams/livestreams/controlplane/state"
)

type ingestView = client.Ingest

type nodesView = client.List[client.Node]

// viewNode shows an edge of the fleet.
func viewNode(n fleet.Node) client.Node {
	return client.Node{ID: n.ID, State: n.State, Source: n.Source, Region: n.Region, Lat: n.Lat, Lon: n.Lon,
		HasLocation: n.HasLocation, HLSURL: n.HLSURL, RTMPURL: n.RTMPURL, RTMPSURL: n.RTMPSURL, SRTURL: n.SRTURL, WHIPURL: n.WHIPURL,
		Draining: n.Draining, Load: n.Load, Streams: n.Streams, LeaseExpiresAt: n.LeaseExpiresAt}
}

// viewRoute shows a routing decision with its candidates.
func viewRoute(rt fleet.Route) client.Route {
	return client.Route{EdgeID: rt.EdgeID, URL: rt.URL, RTMP: rt.RTMP, RTMPS: rt.RTMPS, SRT: rt.SRT, WHIP: rt.WHIP,
		Client: client.RouteClient{IP: rt.Client.IP, Known: rt.Client.Known, Location: rt.Client.Location},
		Scores: rt.Scores, Reason: rt.Reason}
}

// routeIP is the address to route for: ?ip= when given (so a creator's
// tooling or an operator can ask on someone's behalf), else the caller's.
func routeIP(r *http.Request) (netip.Addr, error) {
	if s := r.URL.Query().Get("ip"); s != "" {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, invalid("ip %q is not an IP address", s)
		}
		return ip.Unmap(), nil
	}
	return clientIP(r.Context()), nil
}

// streamIngest answers what to give an encoder to publish the stream on
// the edge nearest the caller (or ?ip=): for each protocol that edge
// offers, the URL with the key, and beside the SRT URL the stream's SRT
// passphrase when it has one (the creator types it into the encoder).
func (h *Handler) streamIngest(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	key, passphrase, err := h.publishSecrets(orgID, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ip, err := routeIP(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rt, err := h.ingestRoute(r.Context(), ip, "")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	v := viewIngest(rt, id, key)
	if v.SRTURL != "" {
		v.SRTPassphrase = passphrase
	}
	writeJSON(w, http.StatusOK, v)
}

// ingestRoute chooses the edge a creator at ip publishes to over proto
// ("" for any protocol); 503 when no edge can take the publish.
func (h *Handler) ingestRoute(ctx context.Context, ip netip.Addr, proto string) (fleet.Route, error) {
	none := errorf(codeUnavailable, "no edge can take a publish: none is alive and not draining")
	if proto != "" {
		none = errorf(codeUnavailable, "no edge offers %s ingest: none that does is alive and not draining", proto)
	}
	if h.cfg.Directory == nil {
		return fleet.Route{}, none
	}
	rt, err := h.cfg.Directory.Ingest(ctx, ip, proto)
	if errors.Is(err, routing.ErrNoEdge) {
		return fleet.Route{}, none
	}
	return rt, err
}

// srtApp is the resource prefix of the SRT streamid the edges accept
// (#!::r=live/KEY,m=publish, as SRS and most encoders write it).
const srtApp = "live"

// viewIngest shows what an encoder needs to publish stream id with key on
// the edge of rt, for each protocol that edge offers.
func viewIngest(rt fleet.Route, id, key string) ingestView {
	v := ingestView{EdgeID: rt.EdgeID, StreamKey: key}
	if rt.RTMP != "" {
		v.RTMPServer = strings.TrimRight(rt.RTMP, "/")
		v.RTMPURL = v.RTMPServer + "/" + url.PathEscape(key)
	}
	if rt.RTMPS != "" {
		v.RTMPSServer = strings.TrimRight(rt.RTMPS, "/")
		v.RTMPSURL = v.RTMPSServer + "/" + url.PathEscape(key)
	}
	if rt.SRT != "" {
		v.SRTStreamID = "#!::r=" + srtApp + "/" + key + ",m=publish"
		v.SRTURL = srtURL(rt.SRT, v.SRTStreamID)
	}
	if rt.WHIP != "" {
		v.WHIPURL = strings.TrimRight(rt.WHIP, "/") + "/" + url.PathEscape(id)
	}
	return v
}

// srtURL is the SRT URL an encoder calls with streamid on the edge that
// advertises base (srt://host:port, or host:port alone).
func srtURL(base, streamID string) string {
	if !strings.Contains(base, "://") {
		base = "srt://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return base + "?streamid=" + url.QueryEscape(streamID)
	}
	q := "streamid=" + url.QueryEscape(streamID)
	if u.RawQuery != "" {
		q = u.RawQuery + "&" + q
	}
	u.RawQuery, u.Path = q, strings.TrimRight(u.Path, "/")
	return u.String()
}

// listNodes shows the edge fleet: state, region, load, streams.
func (h *Handler) listNodes(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Directory == nil {
		writeJSON(w, http.StatusOK, nodesView{Items: []client.Node{}})
		return
	}
	nodes, err := h.cfg.Directory.Nodes()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]client.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, viewNode(n))
	}
	writeJSON(w, http.StatusOK, nodesView{Items: out})
}

// drainNode orders an edge to take no new publishes or viewers (POST) or
// lifts the order (DELETE); its running sessions go on.
func (h *Handler) drainNode(w http.ResponseWriter, r *http.Request) {
	cmd := fsm.DrainEdge{ID: chi.URLParam(r, "id"), Draining: r.Method == http.MethodPost}
	var e state.Edge
	if err := h.apply(r.Context(), fsm.CmdDrainEdge, cmd, &e); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// explainRoute shows how a viewer at ?ip= would be routed for
// ?playback_id=, with every candidate and its score.
func (h *Handler) explainRoute(w http.ResponseWriter, r *http.Request) {
	pid := r.URL.Query().Get("playback_id")
	if pid == "" {
		h.writeError(w, r, invalid("playback_id is required"))
		return
	}
	ip, err := routeIP(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var s state.Stream
	if err := h.view(func(tx *state.Tx) error { var err error; s, err = tx.StreamByPlaybackID(pid); return err }); err != nil {
		if state.IsNotFound(err) {
			err = notFound("playback id %s not found", pid)
		}
		h.writeError(w, r, err)
		return
	}
	if h.cfg.Directory == nil {
		h.writeError(w, r, conflict("stream is not live"))
		return
	}
	rt, err := h.cfg.Directory.Playback(r.Context(), s, ip)
	if errors.Is(err, fleet.ErrNotLive) {
		h.writeError(w, r, conflict("stream is not live"))
		return
	} else if err != nil && !errors.Is(err, routing.ErrNoEdge) {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRoute(rt))
}
