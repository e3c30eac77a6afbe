package api

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// assetRow is an asset with its latest job (of those that prepare it)
// and its captions jobs, read in one transaction.
type assetRow struct {
	a        state.Asset
	latest   *state.Job
	captions map[string]state.Job // the latest of each language
}

func loadAssetRow(tx *state.Tx, a state.Asset) (assetRow, error) {
	all, err := tx.JobsOfAsset(a.ID)
	if err != nil {
		return assetRow{}, err
	}
	row := assetRow{a: a}
	if row.captions, err = jobs.CaptionsJobs(tx, a.ID); err != nil {
		return assetRow{}, err
	}
	js := slices.DeleteFunc(all, func(j state.Job) bool { return j.Type == state.JobCaptions })
	if len(js) > 0 {
		j := slices.MaxFunc(js, func(x, y state.Job) int {
			return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID))
		})
		row.latest = &j
	}
	return row, nil
}

// orgAsset reads an asset of the caller's org; other orgs' assets are not
// found.
func orgAsset(tx *state.Tx, orgID, id string) (state.Asset, error) {
	a, err := tx.Asset(id)
	if err != nil || a.OrgID != orgID {
		return state.Asset{}, notFound("asset %s not found", id)
	}
	return a, nil
}

func (h *Handler) renderAsset(r *http.Request, row assetRow) assetView {
	base := h.publicBase(r)
	v := viewAsset(row.a, row.latest, base)
	v.Captions = viewCaptions(row.a, row.captions, base)
	return v
}

// assetFilter is what GET /v1/assets selects by.
type assetFilter struct{ status, typ, streamID string }

func (f assetFilter) match(a state.Asset) bool {
	return (f.status == "" || a.Status == f.status) && (f.typ == "" || a.Type == f.typ) &&
		(f.streamID == "" || a.StreamID == f.streamID)
}

func parseAssetFilter(r *http.Request) (assetFilter, error) {
	q := r.URL.Query()
	f := assetFilter{status: q.Get("status"), typ: q.Get("type"), streamID: q.Get("stream_id")}
	switch f.status {
	case "", state.AssetPreparing, state.AssetReady, state.AssetErrored:
	default:
		return f, invalid("status must be preparing, ready or errored")
	}
	switch f.typ {
	case "", state.AssetRecording, state.AssetUpload, state.AssetClip:
	default:
		return f, invalid("type must be recording, upload or clip")
	}
	return f, nil
}

// listAssets lists a page of the org's assets, newest first.
func (h *Handler) listAssets(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	f, err := parseAssetFilter(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	limit, cursor, err := pageParams(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var rows []assetRow
	var next string
	err = h.view(func(tx *state.Tx) error {
		assets, n, err := tx.Assets(orgID, cursor, limit, f.match)
		if err != nil {
			return err
		}
		next = n
		for _, a := range assets {
			row, err := loadAssetRow(tx, a)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := page[assetView]{Items: make([]assetView, 0, len(rows)), NextCursor: next}
	for _, row := range rows {
		out.Items = append(out.Items, h.renderAsset(r, row))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) getAsset(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var row assetRow
	err := h.view(func(tx *state.Tx) error {
		a, err := orgAsset(tx, orgID, id)
		if err != nil {
			return err
		}
		row, err = loadAssetRow(tx, a)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.renderAsset(r, row))
}

type updateAssetRequest = client.AssetUpdate

// updateAsset changes the settings present in the body.
func (h *Handler) updateAsset(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var in updateAssetRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.PlaybackPolicy != nil {
		if err := checkPolicy(*in.PlaybackPolicy); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	var a state.Asset
	cmd := fsm.UpdateAsset{OrgID: orgID, ID: id, PlaybackPolicy: in.PlaybackPolicy, At: h.now()}
	if err := h.apply(r.Context(), fsm.CmdUpdateAsset, cmd, &a); err != nil {
		h.writeError(w, r, err)
		return
	}
	var row assetRow
	if err := h.view(func(tx *state.Tx) error { var err error; row, err = loadAssetRow(tx, a); return err }); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.renderAsset(r, row))
}

// deleteAsset deletes the asset's objects, then its record, which cancels
// its unfinished jobs. The objects go first: should that fail, the asset
// is still there to delete again, where the other order would leave files
// no record points to. A job still running writes on until its edge next
// renews (seconds); what it writes in that time stays behind.
func (h *Handler) deleteAsset(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var a state.Asset
	if err := h.view(func(tx *state.Tx) error { var err error; a, err = orgAsset(tx, orgID, id); return err }); err != nil {
		h.writeError(w, r, err)
		return
	}
	// The asset's prefix by the key layout, not the one recorded: a
	// recorded prefix that somehow named more than the asset must not
	// make a delete take more.
	prefix, err := objstore.AssetPrefix(a.OrgID, a.ID)
	switch {
	case err != nil:
		h.log.Warn("asset deleted without its objects: its id has no key prefix", "asset_id", a.ID, "err", err)
	case h.cfg.Store == nil:
		h.log.Warn("asset deleted without its objects: no object store is configured", "asset_id", a.ID, "prefix", prefix)
	default:
		if err := h.cfg.Store.DeletePrefix(r.Context(), prefix); err != nil {
			h.log.Error("delete asset objects", "asset_id", a.ID, "prefix", prefix, "err", err)
			h.writeError(w, r, errorf(codeUnavailable, "could not delete the asset's files from object storage; the asset is kept, try again"))
			return
		}
	}
	if err := h.apply(r.Context(), fsm.CmdDeleteAsset, fsm.DeleteAsset{OrgID: orgID, ID: id, At: h.now()}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type createClipRequest = client.ClipCreate

type clipAnswer = client.Clip

// minClip is the shortest clip: anything shorter is rarely meant and
// often cuts to no frame at all.
const minClip = 1.0

// createClip cuts [start, end) seconds of a ready asset into a new clip
// asset: the asset is created preparing and a clip job queued for it.
func (h *Handler) createClip(w http.ResponseWriter, r *http.Request) {
	orgID, srcID := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var in createClipRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.Start == nil || in.End == nil {
		h.writeError(w, r, invalid("start and end are required, in seconds"))
		return
	}
	if in.PlaybackPolicy != "" {
		if err := checkPolicy(in.PlaybackPolicy); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if h.cfg.Jobs == nil {
		h.writeError(w, r, errorf(codeUnavailable, "media jobs are not enabled on this control plane"))
		return
	}
	var src state.Asset
	streamExists := false
	err := h.view(func(tx *state.Tx) error {
		var err error
		if src, err = orgAsset(tx, orgID, srcID); err != nil {
			return err
		}
		if src.StreamID != "" {
			_, err := tx.Stream(src.StreamID)
			streamExists = err == nil
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if src.Status != state.AssetReady {
		h.writeError(w, r, conflict("asset %s is not ready (%s): only a ready asset can be clipped", src.ID, src.Status))
		return
	}
	if src.SourceKey == "" {
		h.writeError(w, r, conflict("asset %s has no source file to cut from", src.ID))
		return
	}
	start, end := *in.Start, *in.End
	switch {
	case start < 0:
		h.writeError(w, r, invalid("start must be 0 or more"))
		return
	case end <= start:
		h.writeError(w, r, invalid("end must be after start"))
		return
	case end > src.Duration:
		h.writeError(w, r, invalid("end %g is past the end of the asset (%g s)", end, src.Duration))
		return
	case end-start < minClip:
		h.writeError(w, r, invalid("a clip must be at least %g s long", minClip))
		return
	}
	policy := cmp.Or(in.PlaybackPolicy, src.PlaybackPolicy)
	id := ids.New("ast")
	prefix, err := objstore.AssetPrefix(orgID, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	a := state.Asset{ID: id, OrgID: orgID, Type: state.AssetClip, SourceAssetID: src.ID, PlaybackID: ids.PlaybackID(),
		PlaybackPolicy: policy, ObjectPrefix: prefix, SourceKey: prefix + objstore.SourceFile, CreatedAt: h.now()}
	if streamExists {
		a.StreamID = src.StreamID
	}
	if err := h.apply(r.Context(), fsm.CmdCreateAsset, fsm.CreateAsset{Asset: a}, &a); err != nil {
		h.writeError(w, r, err)
		return
	}
	job := protocol.ClipJob{SourceKey: src.SourceKey, Prefix: prefix, Start: start, End: end, Reencode: in.Reencode}
	// The job's id is derived from the clip's, as every job that makes an
	// asset ready: one whose enqueue was retried is found, not doubled.
	j, err := h.enqueue(r, state.Job{ID: jobs.AssetJobID(a.ID), OrgID: orgID, Type: state.JobClip, AssetID: a.ID, StreamID: a.StreamID}, job)
	if err != nil {
		// The clip cannot become ready without its job: say so on the
		// asset (a job that did get queued may still make it ready).
		h.markErrored(r, a, "the clip job could not be queued")
		h.writeError(w, r, err)
		return
	}
	h.log.Info("clip queued", "asset_id", a.ID, "source_asset_id", src.ID, "job_id", j.ID, "by", caller(r.Context()).actorID())
	writeJSON(w, http.StatusCreated, clipAnswer{Asset: h.renderAsset(r, assetRow{a: a, latest: &j}), Job: viewJob(j)})
}

// markErrored marks a preparing asset errored, best effort.
func (h *Handler) markErrored(r *http.Request, a state.Asset, msg string) {
	cmd := fsm.SetAssetErrored{OrgID: a.OrgID, ID: a.ID, Error: msg, At: h.now()}
	if err := h.apply(r.Context(), fsm.CmdSetAssetErrored, cmd, nil); err != nil {
		h.log.Warn("mark asset errored", "asset_id", a.ID, "err", err)
	}
}
