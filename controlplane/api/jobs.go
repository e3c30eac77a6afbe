package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/state"
)

// orgJob reads a job of the caller's org; other orgs' jobs are not found.
func orgJob(tx *state.Tx, orgID, id string) (state.Job, error) {
	j, err := tx.Job(id)
	if err != nil || j.OrgID != orgID {
		return state.Job{}, notFound("job %s not found", id)
	}
	return j, nil
}

// jobFilter is what GET /v1/jobs selects by.
type jobFilter struct{ state, typ, assetID string }

func (f jobFilter) match(j state.Job) bool {
	return (f.state == "" || j.State == f.state) && (f.typ == "" || j.Type == f.typ) &&
		(f.assetID == "" || j.AssetID == f.assetID)
}

// listJobs lists a page of the org's jobs, newest first.
func (h *Handler) listJobs(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	q := r.URL.Query()
	f := jobFilter{state: q.Get("state"), typ: q.Get("type"), assetID: q.Get("asset_id")}
	if f.state != "" && !state.ValidJobState(f.state) {
		h.writeError(w, r, invalid("state must be queued, leased, running, succeeded, failed or cancelled"))
		return
	}
	limit, cursor, err := pageParams(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var js []state.Job
	var next string
	err = h.view(func(tx *state.Tx) error {
		var err error
		js, next, err = tx.Jobs(orgID, cursor, limit, f.match)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := page[jobView]{Items: make([]jobView, 0, len(js)), NextCursor: next}
	for _, j := range js {
		out.Items = append(out.Items, viewJob(j))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) getJob(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var j state.Job
	if err := h.view(func(tx *state.Tx) error { var err error; j, err = orgJob(tx, orgID, id); return err }); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewJob(j))
}

// cancelJob cancels a job: a queued one at once, a running one when its
// edge next renews (cancel_requested says so meanwhile). A job that
// already succeeded or failed cannot be (409); cancelling a cancelled job
// changes nothing.
func (h *Handler) cancelJob(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	if h.cfg.Jobs == nil {
		h.writeError(w, r, errorf(codeUnavailable, "media jobs are not enabled on this control plane"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), applyTimeout)
	defer cancel()
	j, err := h.cfg.Jobs.Cancel(ctx, orgID, id)
	if err != nil {
		h.writeError(w, r, uncommitted(err, "cancel job "+id))
		return
	}
	h.log.Info("job cancelled", "job_id", j.ID, "state", j.State, "by", caller(r.Context()).actorID())
	writeJSON(w, http.StatusOK, viewJob(j))
}

// enqueue queues a job with payload, as the API's own writes are bounded
// and classified.
func (h *Handler) enqueue(r *http.Request, j state.Job, payload any) (state.Job, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return state.Job{}, fmt.Errorf("encode %s job: %w", j.Type, err)
	}
	j.Payload = raw
	ctx, cancel := context.WithTimeout(r.Context(), applyTimeout)
	defer cancel()
	out, err := h.cfg.Jobs.Enqueue(ctx, j)
	return out, uncommitted(err, "enqueue "+j.Type+" job")
}
