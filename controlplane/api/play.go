package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/fleet"
	"github.com/livestreams/livestreams/controlplane/routing"
	"github.com/livestreams/livestreams/controlplane/state"
)

// playlistFile is the file /v1/play/{id}.m3u8 stands for on the edge.
const playlistFile = "master.m3u8"

// play sends a viewer to the edge serving a playback id's file (the
// master playlist, the thumbnail or the storyboard): for a live stream the
// edge nearest the viewer that can relay it from its origin, for an
// on-demand asset the nearest edge of all. The query string (a signed
// playback's token, a thumbnail's ?time=) goes along untouched; the edge,
// not this route, checks it.
func (h *Handler) play(file string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pid := chi.URLParam(r, "playback_id")
		var s state.Stream
		var a state.Asset
		isStream := false
		err := h.view(func(tx *state.Tx) error {
			var err error
			if s, err = tx.StreamByPlaybackID(pid); err == nil {
				isStream = true
				return nil
			} else if !state.IsNotFound(err) {
				return err
			}
			a, err = tx.AssetByPlaybackID(pid)
			return err
		})
		if state.IsNotFound(err) || pid == "" {
			h.writeError(w, r, notFound("playback id %s not found", pid))
			return
		} else if err != nil {
			h.writeError(w, r, err)
			return
		}
		var rt fleet.Route
		if isStream {
			rt, err = h.playStream(r, s)
		} else {
			rt, err = h.playAsset(r, a)
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		target := sibling(rt.URL, file)
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
}

func (h *Handler) playStream(r *http.Request, s state.Stream) (fleet.Route, error) {
	if s.Disabled {
		return fleet.Route{}, conflict("stream is disabled")
	}
	if s.CurrentSessionID == "" || h.cfg.Directory == nil {
		return fleet.Route{}, conflict("stream is not live")
	}
	rt, err := h.cfg.Directory.Playback(r.Context(), s, clientIP(r.Context()))
	if err != nil {
		h.log.Debug("no edge to play from", "stream_id", s.ID, "err", err)
		return fleet.Route{}, conflict("stream is not live")
	}
	return rt, nil
}

func (h *Handler) playAsset(r *http.Request, a state.Asset) (fleet.Route, error) {
	switch a.Status {
	case state.AssetReady:
	case state.AssetErrored:
		return fleet.Route{}, conflict("asset is not ready (errored: %s)", a.Error)
	default:
		return fleet.Route{}, conflict("asset is not ready (%s)", a.Status)
	}
	if h.cfg.Directory == nil {
		return fleet.Route{}, errorf(codeUnavailable, "no edge can serve the asset")
	}
	rt, err := h.cfg.Directory.VOD(r.Context(), a.PlaybackID, clientIP(r.Context()))
	if errors.Is(err, routing.ErrNoEdge) {
		return fleet.Route{}, errorf(codeUnavailable, "no edge can serve the asset: none is alive and not draining")
	} else if err != nil {
		return fleet.Route{}, fmt.Errorf("route asset %s: %w", a.ID, err)
	}
	return rt, nil
}

// sibling replaces the last path segment of an edge's playlist URL with
// file: the thumbnail and storyboards sit beside the master playlist.
func sibling(playlistURL, file string) string {
	if i := strings.LastIndexByte(playlistURL, '/'); i >= 0 {
		return playlistURL[:i+1] + file
	}
	return playlistURL
}
