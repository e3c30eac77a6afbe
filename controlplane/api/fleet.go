package api

import (
	"errors"
	"net/http"
	"net/netip"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/fleet"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/routing"
	"github.com/livestreams/livestreams/controlplane/state"
)

// ingestView is where a creator publishes: the nearest ingest-capable edge.
type ingestView struct {
	EdgeID  string `json:"edge_id"`
	RTMPURL string `json:"rtmp_url"`
	SRTURL  string `json:"srt_url,omitempty"`
	WHIPURL string `json:"whip_url,omitempty"`
}

type nodesView struct {
	Items []fleet.Node `json:"items"`
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
		writeJSON(w, http.StatusOK, nodesView{Items: []fleet.Node{}})
		return
	}
	nodes, err := h.cfg.Directory.Nodes()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nodesView{Items: nodes})
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
	writeJSON(w, http.StatusOK, rt)
}
