package api

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/state"
)

// play sends a viewer to the edge serving the stream. The query string
// (the playback token of a signed stream) goes along untouched; the edge,
// not this route, checks it.
func (h *Handler) play(w http.ResponseWriter, r *http.Request) {
	pid := chi.URLParam(r, "playback_id")
	var s state.Stream
	err := h.view(func(tx *state.Tx) error {
		var err error
		s, err = tx.StreamByPlaybackID(pid)
		return err
	})
	if state.IsNotFound(err) || pid == "" {
		h.writeError(w, r, notFound("playback id %s not found", pid))
		return
	} else if err != nil {
		h.writeError(w, r, err)
		return
	}
	if s.Disabled {
		h.writeError(w, r, conflict("stream is disabled"))
		return
	}
	if s.CurrentSessionID == "" || h.cfg.Directory == nil {
		h.writeError(w, r, conflict("stream is not live"))
		return
	}
	rt, err := h.cfg.Directory.Playback(r.Context(), s, clientIP(r.Context()))
	if err != nil {
		h.log.Debug("no edge to play from", "stream_id", s.ID, "err", err)
		h.writeError(w, r, conflict("stream is not live"))
		return
	}
	target := rt.URL
	if q := r.URL.RawQuery; q != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + q
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}
