package cli

import (
	"net/http"
	"time"
)

// The fake's on-demand assets and media jobs: org_1 has a ready upload
// (ast_1, made by job_1), a clip being cut (ast_2, job_2) and a queued
// job (job_3); org_2's are not the admin's to see.

func (f *fakeAPI) mediaFixtures() {
	ts := func(ago time.Duration) string { return testNow.Add(-ago).Format(time.RFC3339) }
	f.assets = []map[string]any{
		{"id": "ast_1", "org_id": "org_1", "type": "upload", "status": "ready", "playback_id": "pb_ast_1", "playback_policy": "signed",
			"duration": 3723.5, "size": 13207024435,
			"tracks": []map[string]any{{"type": "video", "codec": "h264", "width": 1920, "height": 1080, "fps": 30},
				{"type": "audio", "codec": "aac", "channels": 2, "sample_rate": 48000}},
			"renditions": []map[string]any{{"name": "720p", "width": 1280, "height": 720, "bandwidth": 3000000}},
			"progress":   100, "job": map[string]any{"id": "job_1", "type": "vod", "state": "succeeded", "progress": map[string]any{"percent": 100, "fps": 0, "speed": 0}},
			"created_at": ts(2 * time.Hour), "updated_at": ts(time.Hour), "ready_at": ts(time.Hour),
			"playback_url": "http://cp/v1/play/pb_ast_1.m3u8", "thumbnail_url": "http://cp/v1/play/pb_ast_1/thumbnail.jpg",
			"storyboard_url": "http://cp/v1/play/pb_ast_1/storyboard.vtt"},
		{"id": "ast_2", "org_id": "org_1", "type": "clip", "status": "preparing", "stream_id": "str_1", "source_asset_id": "ast_1",
			"playback_id": "pb_ast_2", "playback_policy": "public", "duration": 0, "size": 0, "tracks": []any{}, "renditions": []any{},
			"progress": 40, "job": map[string]any{"id": "job_2", "type": "clip", "state": "running", "progress": map[string]any{"percent": 40, "fps": 120, "speed": 4}},
			"created_at": ts(5 * time.Minute), "updated_at": ts(time.Minute), "ready_at": nil},
		{"id": "ast_9", "org_id": "org_2", "type": "upload", "status": "errored", "error": "not media", "playback_id": "pb_ast_9",
			"playback_policy": "public", "tracks": []any{}, "renditions": []any{}, "created_at": ts(time.Hour), "updated_at": ts(time.Hour)},
	}
	job := func(id, org, typ, state, asset string, created time.Duration) map[string]any {
		return map[string]any{"id": id, "org_id": org, "type": typ, "state": state, "attempts": 0, "max_attempts": 3,
			"history": []any{}, "lease_expires_at": nil, "queued_at": ts(created), "not_before": nil,
			"progress": map[string]any{"percent": 0, "fps": 0, "speed": 0}, "asset_id": asset,
			"created_at": ts(created), "updated_at": ts(created), "finished_at": nil, "cancel_requested": false}
	}
	j1 := job("job_1", "org_1", "vod", "succeeded", "ast_1", 2*time.Hour)
	j1["attempts"], j1["max_attempts"], j1["finished_at"] = 2, 5, ts(time.Hour)
	j1["progress"] = map[string]any{"percent": 100, "fps": 0, "speed": 0}
	j1["history"] = []map[string]any{
		{"edge": "edge-a", "started_at": ts(2 * time.Hour), "ended_at": ts(110 * time.Minute), "error": "lease lapsed"},
		{"edge": "edge-b", "started_at": ts(100 * time.Minute), "ended_at": ts(time.Hour)}}
	j1["payload"] = map[string]any{"source_key": "orgs/org_1/assets/ast_1/source.mp4", "prefix": "orgs/org_1/assets/ast_1/", "delete_rejected": true}
	j2 := job("job_2", "org_1", "clip", "running", "ast_2", 5*time.Minute)
	j2["attempts"], j2["lease_holder"], j2["lease_expires_at"] = 1, "edge-b", testNow.Add(20*time.Second).Format(time.RFC3339)
	j2["progress"] = map[string]any{"percent": 40, "fps": 120, "speed": 4}
	j2["history"] = []map[string]any{{"edge": "edge-b", "started_at": ts(4 * time.Minute), "ended_at": nil}}
	j2["payload"] = map[string]any{"source_key": "orgs/org_1/assets/ast_1/source.mp4", "prefix": "orgs/org_1/assets/ast_2/", "start": 2, "end": 10.5}
	f.jobs = []map[string]any{j2, job("job_3", "org_1", "clip", "queued", "", time.Minute), j1, job("job_9", "org_2", "vod", "queued", "ast_9", time.Hour)}
}

// find returns the index of the item of org p with the path's id, or
// answers 404.
func find(w http.ResponseWriter, r *http.Request, p principal, items []map[string]any, what string) (int, bool) {
	id := r.PathValue("id")
	for i, it := range items {
		if it["id"] == id && it["org_id"] == p.org {
			return i, true
		}
	}
	writeError(w, 404, "not_found", what+" "+id+" not found")
	return 0, false
}

// filtered lists the items of org p whose fields equal the query's.
func filtered(r *http.Request, p principal, items []map[string]any, params map[string]string) map[string]any {
	out := []map[string]any{}
	q := r.URL.Query()
next:
	for _, it := range items {
		if it["org_id"] != p.org {
			continue
		}
		for param, field := range params {
			if v := q.Get(param); v != "" && it[field] != v {
				continue next
			}
		}
		out = append(out, it)
	}
	return map[string]any{"items": out, "next_cursor": ""}
}

func (f *fakeAPI) mediaRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/assets", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, 200, filtered(r, p, f.assets, map[string]string{"status": "status", "type": "type", "stream_id": "stream_id"}))
	}))
	mux.HandleFunc("GET /v1/assets/{id}", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i, ok := find(w, r, p, f.assets, "asset"); ok {
			writeJSON(w, 200, f.assets[i])
		}
	}))
	mux.HandleFunc("DELETE /v1/assets/{id}", f.auth("member", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i, ok := find(w, r, p, f.assets, "asset"); ok {
			f.assets = append(f.assets[:i], f.assets[i+1:]...)
			w.WriteHeader(204)
		}
	}))
	mux.HandleFunc("GET /v1/jobs", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, 200, filtered(r, p, f.jobs, map[string]string{"state": "state", "type": "type", "asset_id": "asset_id"}))
	}))
	mux.HandleFunc("GET /v1/jobs/{id}", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i, ok := find(w, r, p, f.jobs, "job"); ok {
			writeJSON(w, 200, f.jobs[i])
		}
	}))
	mux.HandleFunc("DELETE /v1/jobs/{id}", f.auth("member", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		i, ok := find(w, r, p, f.jobs, "job")
		if !ok {
			return
		}
		j := f.jobs[i]
		switch j["state"] {
		case "succeeded", "failed":
			writeError(w, 409, "conflict", "job "+j["id"].(string)+" already "+j["state"].(string))
			return
		case "queued":
			j["state"] = "cancelled"
		}
		j["cancel_requested"] = true
		writeJSON(w, 200, j)
	}))
}
