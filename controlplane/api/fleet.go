package api

import (
	"errors"
	"net/http"
	"net/netip"

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
		HasLocation: n.HasLocation, HLSURL: n.HLSURL, RTMPURL: n.RTMPURL, SRTURL: n.SRTURL, WHIPURL: n.WHIPURL,
		Draining: n.Draining, Load: n.Load, Streams: n.Streams, LeaseExpiresAt: n.LeaseExpiresAt}
}

// viewRoute shows a routing decision with its candidates.
func viewRoute(rt fleet.Route) client.Route {
	return client.Route{EdgeID: rt.EdgeID, URL: rt.URL, RTMP: rt.RTMP, SRT: rt.SRT, WHIP: rt.WHIP,
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

// streamIngest answers the stream's publish URLs on the edge nearest the
// caller (or ?ip=).
func (h *Handler) streamIngest(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	if err := h.view(func(tx *state.Tx) error { _, err := orgStream(tx, orgID, id); return err }); err != nil {
		h.writeError(w, r, err)
		return
	}
	ip, err := routeIP(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if h.cfg.Directory == nil {
		h.writeError(w, r, errorf(codeUnavailable, "no edge can take a publish"))
		return
	}
	rt, err := h.cfg.Directory.Ingest(r.Context(), ip)
	if errors.Is(err, routing.ErrNoEdge) {
		h.writeError(w, r, errorf(codeUnavailable, "no edge can take a publish: none is alive and not draining"))
		return
	} else if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ingestView{EdgeID: rt.EdgeID, RTMPURL: rt.RTMP, SRTURL: rt.SRT, WHIPURL: rt.WHIP})
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
