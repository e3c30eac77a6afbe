package cli

import (
	"net/http"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// The fake's on-demand assets and media jobs: org_1 has a ready upload
// (ast_1, made by job_1), a clip being cut (ast_2, job_2) and a queued
// job (job_3); org_2's are not the admin's to see.

func (f *fakeAPI) mediaFixtures() {
	f.assets = []client.Asset{
		{ID: "ast_1", OrgID: "org_1", Type: "upload", Status: "ready", PlaybackID: "pb_ast_1", PlaybackPolicy: "signed",
			Duration: 3723.5, Size: 13207024435,
			Tracks: []client.Track{{Type: "video", Codec: "h264", Width: 1920, Height: 1080, FPS: 30},
				{Type: "audio", Codec: "aac", Channels: 2, SampleRate: 48000}},
			Renditions: []client.Rendition{{Name: "720p", Width: 1280, Height: 720, Bandwidth: 3000000}},
			Progress:   100, Job: &client.AssetJob{ID: "job_1", Type: "vod", State: "succeeded", Progress: client.Progress{Percent: 100}},
			CreatedAt: ago(2 * time.Hour), UpdatedAt: ago(time.Hour), ReadyAt: agoP(time.Hour),
			PlaybackURL: "http://cp/v1/play/pb_ast_1.m3u8", ThumbnailURL: "http://cp/v1/play/pb_ast_1/thumbnail.jpg",
			StoryboardURL: "http://cp/v1/play/pb_ast_1/storyboard.vtt"},
		{ID: "ast_2", OrgID: "org_1", Type: "clip", Status: "preparing", StreamID: "str_1", SourceAssetID: "ast_1",
			PlaybackID: "pb_ast_2", PlaybackPolicy: "public", Tracks: []client.Track{}, Renditions: []client.Rendition{},
			Progress: 40, Job: &client.AssetJob{ID: "job_2", Type: "clip", State: "running", Progress: client.Progress{Percent: 40, FPS: 120, Speed: 4}},
			CreatedAt: ago(5 * time.Minute), UpdatedAt: ago(time.Minute)},
		{ID: "ast_9", OrgID: "org_2", Type: "upload", Status: "errored", Error: "not media", PlaybackID: "pb_ast_9",
			PlaybackPolicy: "public", Tracks: []client.Track{}, Renditions: []client.Rendition{}, CreatedAt: ago(time.Hour), UpdatedAt: ago(time.Hour)},
	}
	job := func(id, org, typ, state, asset string, created time.Duration) client.Job {
		return client.Job{ID: id, OrgID: org, Type: typ, State: state, MaxAttempts: 3, History: []client.Attempt{},
			QueuedAt: ago(created), AssetID: asset, CreatedAt: ago(created), UpdatedAt: ago(created)}
	}
	j1 := job("job_1", "org_1", "vod", "succeeded", "ast_1", 2*time.Hour)
	j1.Attempts, j1.MaxAttempts, j1.FinishedAt = 2, 5, agoP(time.Hour)
	j1.Progress = client.Progress{Percent: 100}
	j1.History = []client.Attempt{
		{Edge: "edge-a", StartedAt: ago(2 * time.Hour), EndedAt: agoP(110 * time.Minute), Error: "lease lapsed"},
		{Edge: "edge-b", StartedAt: ago(100 * time.Minute), EndedAt: agoP(time.Hour)}}
	j1.Payload = &client.JobPayload{SourceKey: "orgs/org_1/assets/ast_1/source.mp4", Prefix: "orgs/org_1/assets/ast_1/", DeleteRejected: true}
	j2 := job("job_2", "org_1", "clip", "running", "ast_2", 5*time.Minute)
	j2.Attempts, j2.LeaseHolder, j2.LeaseExpiresAt = 1, "edge-b", agoP(-20*time.Second)
	j2.Progress = client.Progress{Percent: 40, FPS: 120, Speed: 4}
	j2.History = []client.Attempt{{Edge: "edge-b", StartedAt: ago(4 * time.Minute)}}
	start, end := 2.0, 10.5
	j2.Payload = &client.JobPayload{SourceKey: "orgs/org_1/assets/ast_1/source.mp4", Prefix: "orgs/org_1/assets/ast_2/", Start: &start, End: &end}
	f.jobs = []client.Job{j2, job("job_3", "org_1", "clip", "queued", "", time.Minute), j1, job("job_9", "org_2", "vod", "queued", "ast_9", time.Hour)}
}

// find returns the index of the item of org p with the path's id, or
// answers 404; key gives an item's id and org.
func find[T any](w http.ResponseWriter, r *http.Request, p principal, items []T, what string, key func(T) (id, org string)) (int, bool) {
	id := r.PathValue("id")
	for i, it := range items {
		if itID, org := key(it); itID == id && org == p.org {
			return i, true
		}
	}
	writeError(w, 404, "not_found", what+" "+id+" not found")
	return 0, false
}

// filtered answers the page of the items of org p whose fields, as
// fields gives them by query parameter, equal the query's.
func filtered[T any](w http.ResponseWriter, r *http.Request, p principal, items []T, org func(T) string, fields func(T) map[string]string) {
	out := []T{}
	q := r.URL.Query()
next:
	for _, it := range items {
		if org(it) != p.org {
			continue
		}
		for param, v := range fields(it) {
			if want := q.Get(param); want != "" && v != want {
				continue next
			}
		}
		out = append(out, it)
	}
	writeJSON(w, 200, client.Page[T]{Items: out})
}

func streamRef(s client.Stream) (string, string) { return s.ID, s.OrgID }
func assetRef(a client.Asset) (string, string)   { return a.ID, a.OrgID }
func jobRef(j client.Job) (string, string)       { return j.ID, j.OrgID }

func (f *fakeAPI) mediaRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/assets", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		filtered(w, r, p, f.assets, func(a client.Asset) string { return a.OrgID }, func(a client.Asset) map[string]string {
			return map[string]string{"status": a.Status, "type": a.Type, "stream_id": a.StreamID}
		})
	}))
	mux.HandleFunc("GET /v1/assets/{id}", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i, ok := find(w, r, p, f.assets, "asset", assetRef); ok {
			writeJSON(w, 200, f.assets[i])
		}
	}))
	mux.HandleFunc("DELETE /v1/assets/{id}", f.auth("member", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i, ok := find(w, r, p, f.assets, "asset", assetRef); ok {
			f.assets = append(f.assets[:i], f.assets[i+1:]...)
			w.WriteHeader(204)
		}
	}))
	mux.HandleFunc("GET /v1/jobs", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		filtered(w, r, p, f.jobs, func(j client.Job) string { return j.OrgID }, func(j client.Job) map[string]string {
			return map[string]string{"state": j.State, "type": j.Type, "asset_id": j.AssetID}
		})
	}))
	mux.HandleFunc("GET /v1/jobs/{id}", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i, ok := find(w, r, p, f.jobs, "job", jobRef); ok {
			writeJSON(w, 200, f.jobs[i])
		}
	}))
	mux.HandleFunc("DELETE /v1/jobs/{id}", f.auth("member", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		i, ok := find(w, r, p, f.jobs, "job", jobRef)
		if !ok {
			return
		}
		j := &f.jobs[i]
		switch j.State {
		case "succeeded", "failed":
			writeError(w, 409, "conflict", "job "+j.ID+" already "+j.State)
			return
		case "queued":
			j.State = "cancelled"
		}
		j.CancelRequested = true
		writeJSON(w, 200, j)
	}))
}
