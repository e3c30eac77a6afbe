package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Captions: a ready asset's speech as WebVTT, made by a captions job on an
// edge, on demand (POST /v1/assets/{id}/captions) or, for recordings of a
// stream with auto_captions, as soon as the recording is ready. The asset
// view lists each language's track as its latest captions job left it.

type (
	captionsRequest  = client.CaptionsCreate
	captionTrackView = client.CaptionTrack
)

// checkCaptions checks a stream's captions settings: a language tag, and
// one at all when captions are on.
func checkCaptions(auto bool, lang string) error {
	if lang != "" && objstore.CheckLanguage(lang) != nil {
		return invalid("captions_language %q must be a language tag such as en or pt-BR", lang)
	}
	if auto && lang == "" {
		return invalid("auto_captions needs a captions_language, such as en")
	}
	return nil
}

// createCaptions queues a captions job for a ready asset: 201 with the
// job; 409 while one in that language is queued or running (or when the
// asset is not ready). Asking again after a job ended queues a new one.
func (h *Handler) createCaptions(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var in captionsRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	lang := strings.TrimSpace(in.Language)
	if lang == "" {
		h.writeError(w, r, invalid("language is required, such as en"))
		return
	}
	if objstore.CheckLanguage(lang) != nil {
		h.writeError(w, r, invalid("language %q must be a language tag such as en or pt-BR", lang))
		return
	}
	if h.cfg.Jobs == nil {
		h.writeError(w, r, errorf(codeUnavailable, "media jobs are not enabled on this control plane"))
		return
	}
	var a state.Asset
	if err := h.view(func(tx *state.Tx) error { var err error; a, err = orgAsset(tx, orgID, id); return err }); err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), applyTimeout)
	defer cancel()
	j, _, err := h.cfg.Jobs.Captions(ctx, a, lang, "", true)
	if err != nil {
		h.writeError(w, r, uncommitted(err, "enqueue captions job"))
		return
	}
	h.log.Info("captions queued", "asset_id", a.ID, "language", lang, "job_id", j.ID, "by", caller(r.Context()).actorID())
	writeJSON(w, http.StatusCreated, viewJob(j))
}

// viewCaptions renders an asset's caption tracks, by language.
func viewCaptions(a state.Asset, byLang map[string]state.Job, base string) []captionTrackView {
	out := make([]captionTrackView, 0, len(byLang))
	for lang, j := range byLang {
		t := captionTrackView{Language: lang, Status: j.State, JobID: j.ID, Progress: j.Progress.Percent}
		if j.State == state.JobFailed || j.State == state.JobCancelled {
			t.Error = j.LastError
		}
		if j.State == state.JobSucceeded && a.Status == state.AssetReady {
			t.VTTURL = base + "/v1/play/" + url.PathEscape(a.PlaybackID) + client.PlayCaptions(lang)
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(x, y captionTrackView) int { return strings.Compare(x.Language, y.Language) })
	return out
}

// playCaptions redirects to an asset's WebVTT captions in one language on
// the edge that serves it.
func (h *Handler) playCaptions(w http.ResponseWriter, r *http.Request) {
	lang := chi.URLParam(r, "lang")
	file, err := objstore.CaptionsFile(lang)
	if err != nil {
		h.writeError(w, r, notFound("no captions in %q", lang))
		return
	}
	h.play(file)(w, r)
}
