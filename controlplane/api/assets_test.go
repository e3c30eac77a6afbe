package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/directupload"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/objstore"
)

// applyT applies a command on the env's node, failing the test on error.
func (e *env) applyT(typ string, body, out any) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.n.node.ApplyInto(ctx, typ, body, out); err != nil {
		e.t.Fatalf("%s: %v", typ, err)
	}
}

// readyAsset registers a ready one-minute upload of org with a thumbnail
// and a storyboard, as a finished VOD job leaves it.
func (e *env) readyAsset(org string) state.Asset {
	e.t.Helper()
	id := ids.New("ast")
	prefix, _ := objstore.AssetPrefix(org, id)
	a := state.Asset{ID: id, OrgID: org, Type: state.AssetUpload, PlaybackID: ids.PlaybackID(), PlaybackPolicy: state.PolicyPublic,
		ObjectPrefix: prefix, SourceKey: prefix + objstore.SourceFile, CreatedAt: time.Now().UTC()}
	e.applyT(fsm.CmdCreateAsset, fsm.CreateAsset{Asset: a}, &a)
	dur, thumb := 60.0, prefix+objstore.ThumbnailFile
	tracks := []state.Track{{Type: "video", Codec: "h264", Width: 1280, Height: 720, FPS: 30}, {Type: "audio", Codec: "aac", Channels: 2, SampleRate: 48000}}
	rends := []state.Rendition{{Name: "720p", Width: 1280, Height: 720, Bandwidth: 3_000_000}}
	media := fsm.AssetMedia{Duration: &dur, Thumbnail: &thumb, Tracks: &tracks, Renditions: &rends,
		Storyboard: &state.Storyboard{Image: prefix + objstore.StoryboardImageFile, VTT: prefix + objstore.StoryboardVTTFile}}
	e.applyT(fsm.CmdSetAssetReady, fsm.SetAssetReady{OrgID: org, ID: id, Media: media, At: time.Now().UTC()}, &a)
	return a
}

// queuedJob queues a clip job of org with no asset.
func (e *env) queuedJob(org string) state.Job {
	e.t.Helper()
	j, err := e.n.jobs.Enqueue(context.Background(), state.Job{OrgID: org, Type: state.JobClip, Payload: json.RawMessage(`{"start":0,"end":1}`)})
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

// watch makes one pass of an upload watcher over the env's node.
func (e *env) watch() directupload.Result {
	e.t.Helper()
	w, err := directupload.NewWatcher(directupload.Config{Node: e.n.node, Jobs: e.n.jobs, Store: e.n.store})
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := w.Check(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func sub(t testing.TB, m map[string]any, k string) map[string]any {
	t.Helper()
	v, ok := m[k].(map[string]any)
	if !ok {
		t.Fatalf("%s is not an object in %v", k, m)
	}
	return v
}

func itemIDs(t testing.TB, a answer) []string {
	t.Helper()
	var ids []string
	for _, it := range a.json(t)["items"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

// TestUploadToReady walks an upload from POST /v1/uploads through the
// PUT, the watcher, an edge's progress and its result to playback, then
// deletes it.
func TestUploadToReady(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	adm := e.admin

	up := adm.must(201, "POST", "/v1/uploads", map[string]any{"size": 11, "playback_policy": "signed"}).json(t)
	a := sub(t, up, "asset")
	id, pid := str(a, "id"), str(a, "playback_id")
	if a["type"] != "upload" || a["status"] != "preparing" || a["playback_policy"] != "signed" || a["job"] != nil ||
		a["playback_url"] != nil || a["org_id"] != e.orgA || !strings.HasPrefix(id, "ast_") {
		t.Fatalf("upload asset = %v", a)
	}
	exp, _ := time.Parse(time.RFC3339, str(up, "expires_at"))
	if up["method"] != "PUT" || up["max_bytes"] != float64(10<<30) || time.Until(exp) < 59*time.Minute || time.Until(exp) > 61*time.Minute {
		t.Fatalf("upload answer = %v", up)
	}
	// Nothing to do before the file is there.
	if res := e.watch(); res.Queued != 0 {
		t.Fatalf("watcher before the PUT: %+v", res)
	}
	// The URL takes exactly the declared size, once.
	if code := putUpload(t, up, "hello video, and more"); code != http.StatusForbidden {
		t.Fatalf("PUT of more than the declared size = %d, want 403", code)
	}
	if code := putUpload(t, up, "hello video"); code != http.StatusOK {
		t.Fatalf("PUT to the upload URL = %d", code)
	}
	if code := putUpload(t, up, "hello again"); code != http.StatusPreconditionFailed {
		t.Fatalf("second PUT to the upload URL = %d, want 412", code)
	}
	if res := e.watch(); res.Queued != 1 {
		t.Fatalf("watcher after the PUT: %+v", res)
	}

	// The asset shows its job; the job list has it with its payload.
	a = adm.must(200, "GET", "/v1/assets/"+id, nil).json(t)
	job := sub(t, a, "job")
	jid := str(job, "id")
	if job["type"] != "vod" || job["state"] != "queued" || jid != jobs.AssetJobID(id) {
		t.Fatalf("asset's job = %v", job)
	}
	js := adm.must(200, "GET", "/v1/jobs?asset_id="+id, nil).json(t)["items"].([]any)
	if len(js) != 1 {
		t.Fatalf("jobs of the asset = %v", js)
	}
	j := js[0].(map[string]any)
	p := sub(t, j, "payload")
	if j["id"] != jid || p["source_key"] != "orgs/"+e.orgA+"/assets/"+id+"/source.mp4" || p["delete_rejected"] != true || j["asset_id"] != id {
		t.Fatalf("vod job = %v", j)
	}

	// An edge leases it and reports progress: the asset shows it.
	ctx := context.Background()
	if got, err := e.n.jobs.Lease(ctx, "edge-a", []string{"vod"}, "", 1); err != nil || len(got) != 1 {
		t.Fatalf("lease = %v %v", got, err)
	}
	if _, err := e.n.jobs.Renew(ctx, "edge-a", []fsm.JobReport{{ID: jid, Progress: &state.Progress{Percent: 40, FPS: 120, Speed: 4}}}); err != nil {
		t.Fatal(err)
	}
	a = adm.must(200, "GET", "/v1/assets/"+id, nil).json(t)
	if a["progress"] != 40.0 || sub(t, sub(t, a, "job"), "progress")["fps"] != 120.0 || sub(t, a, "job")["state"] != "running" {
		t.Fatalf("asset while preparing = %v", a)
	}
	j = adm.must(200, "GET", "/v1/jobs/"+jid, nil).json(t)
	if j["lease_holder"] != "edge-a" || j["lease_expires_at"] == nil || len(j["history"].([]any)) != 1 || sub(t, j, "progress")["speed"] != 4.0 {
		t.Fatalf("running job = %v", j)
	}
	adm.must(409, "GET", "/v1/play/"+pid+".m3u8", nil)

	// It succeeds and the asset is ready (what the edge API does).
	if _, err := e.n.jobs.Complete(ctx, "edge-a", jid, nil); err != nil {
		t.Fatal(err)
	}
	dur := 42.5
	e.applyT(fsm.CmdSetAssetReady, fsm.SetAssetReady{OrgID: e.orgA, ID: id, Media: fsm.AssetMedia{Duration: &dur,
		Storyboard: &state.Storyboard{Image: "x.jpg", VTT: "x.vtt"}}, At: time.Now().UTC()}, nil)
	a = adm.must(200, "GET", "/v1/assets/"+id, nil).json(t)
	play := e.n.url + "/v1/play/" + pid
	if a["status"] != "ready" || a["duration"] != 42.5 || a["ready_at"] == nil || a["playback_url"] != play+".m3u8" ||
		a["thumbnail_url"] != play+"/thumbnail.jpg" || a["storyboard_url"] != play+"/storyboard.vtt" || sub(t, a, "job")["state"] != "succeeded" {
		t.Fatalf("ready asset = %v", a)
	}
	// The upload URL wrote once: a PUT onto the ready asset's source is
	// refused and changes nothing (issue 12, finding 4).
	if code := putUpload(t, up, "<html>pwn!!"); code != http.StatusPreconditionFailed {
		t.Fatalf("PUT onto the ready asset's source = %d, want 412", code)
	}
	if rc, _, err := e.n.store.Get(context.Background(), "orgs/"+e.orgA+"/assets/"+id+"/source.mp4"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "hello video" {
			t.Fatalf("source after a refused PUT = %q", b)
		}
	}
	// A finished job cannot be cancelled.
	if c := adm.must(409, "DELETE", "/v1/jobs/"+jid, nil); c.code() != "conflict" {
		t.Fatalf("cancel of a finished job: %s", c.body)
	}

	// Playback goes to the edge, query kept, for each file.
	for path, file := range map[string]string{".m3u8": "master.m3u8", "/thumbnail.jpg": "thumbnail.jpg",
		"/storyboard.jpg": "storyboard.jpg", "/storyboard.vtt": "storyboard.vtt"} {
		r := e.anon.must(302, "GET", "/v1/play/"+pid+path+"?time=12.5&token=a.b.c", nil)
		if loc := r.header.Get("Location"); loc != "http://edge-a.test:8081/hls/"+pid+"/"+file+"?time=12.5&token=a.b.c" {
			t.Errorf("GET /v1/play/%s%s: Location %q", pid, path, loc)
		}
	}

	// Deleting it takes its files and its record; its job stays, as history.
	key := "orgs/" + e.orgA + "/assets/" + id + "/source.mp4"
	if _, err := e.n.store.Stat(ctx, key); err != nil {
		t.Fatal(err)
	}
	adm.must(204, "DELETE", "/v1/assets/"+id, nil)
	if _, err := e.n.store.Stat(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("source after delete: %v", err)
	}
	adm.must(404, "GET", "/v1/assets/"+id, nil)
	adm.must(404, "DELETE", "/v1/assets/"+id, nil)
	e.anon.must(404, "GET", "/v1/play/"+pid+".m3u8", nil)
	adm.must(200, "GET", "/v1/jobs/"+jid, nil)

	checkNoSecrets(t, e.rec)
}

func TestAssetsAndJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	adm := e.admin
	src := e.readyAsset(e.orgA)

	// The view of a ready asset.
	a := adm.must(200, "GET", "/v1/assets/"+src.ID, nil).json(t)
	if a["duration"] != 60.0 || len(a["tracks"].([]any)) != 2 || len(a["renditions"].([]any)) != 1 || a["job"] != nil ||
		a["progress"] != 100.0 || a["storyboard_url"] == nil {
		t.Fatalf("ready asset = %v", a)
	}
	for _, f := range []string{"object_prefix", "source_key", "thumbnail", "storyboard", "sha256"} {
		if _, has := a[f]; has {
			t.Errorf("asset view shows %s", f)
		}
	}
	if p := adm.must(200, "PATCH", "/v1/assets/"+src.ID, map[string]any{"playback_policy": "signed"}).json(t); p["playback_policy"] != "signed" {
		t.Fatalf("patched = %v", p)
	}
	adm.must(400, "PATCH", "/v1/assets/"+src.ID, map[string]any{"playback_policy": "secret"})
	adm.must(404, "PATCH", "/v1/assets/ast_nosuchasset", map[string]any{"playback_policy": "public"})

	// A clip: a new asset that inherits the source's policy, and its job.
	c := adm.must(201, "POST", "/v1/assets/"+src.ID+"/clips", map[string]any{"start": 2, "end": 10.5, "reencode": true}).json(t)
	clip, cj := sub(t, c, "asset"), sub(t, c, "job")
	if clip["type"] != "clip" || clip["status"] != "preparing" || clip["source_asset_id"] != src.ID || clip["playback_policy"] != "signed" ||
		sub(t, clip, "job")["id"] != cj["id"] {
		t.Fatalf("clip asset = %v", clip)
	}
	cp := sub(t, cj, "payload")
	if cj["type"] != "clip" || cj["state"] != "queued" || cj["asset_id"] != clip["id"] || cp["start"] != 2.0 || cp["end"] != 10.5 ||
		cp["reencode"] != true || cp["source_key"] != src.SourceKey || cp["prefix"] != "orgs/"+e.orgA+"/assets/"+str(clip, "id")+"/" {
		t.Fatalf("clip job = %v", cj)
	}
	// Its id is derived from the clip's, so a retried enqueue finds it.
	if want := jobs.AssetJobID(str(clip, "id")); cj["id"] != want {
		t.Fatalf("clip job id = %v, want %s (jobs.AssetJobID of the clip)", cj["id"], want)
	}
	if p := adm.must(201, "POST", "/v1/assets/"+src.ID+"/clips", map[string]any{"start": 0, "end": 60, "playback_policy": "public"}).json(t); sub(t, p, "asset")["playback_policy"] != "public" {
		t.Fatalf("clip with its own policy = %v", p)
	}
	// Clip checks.
	for _, body := range []map[string]any{
		{"start": -1, "end": 5}, {"start": 5, "end": 5}, {"start": 6, "end": 5}, {"start": 0, "end": 60.5},
		{"start": 10, "end": 10.9}, {"start": 1}, {"end": 3}, {}, {"start": 1, "end": 3, "playback_policy": "x"},
		{"start": "1", "end": 3},
	} {
		if r := adm.do("POST", "/v1/assets/"+src.ID+"/clips", body); r.status != 400 || r.code() != "invalid" {
			t.Errorf("clip %v: %d %s, want 400", body, r.status, r.body)
		}
	}
	adm.must(404, "POST", "/v1/assets/ast_nosuchasset/clips", map[string]any{"start": 0, "end": 5})
	if r := adm.must(409, "POST", "/v1/assets/"+str(clip, "id")+"/clips", map[string]any{"start": 0, "end": 5}); !strings.Contains(string(r.body), "not ready (preparing)") {
		t.Fatalf("clip of a preparing asset: %s", r.body)
	}

	// Playing what is not ready says why.
	if r := e.anon.must(409, "GET", "/v1/play/"+str(clip, "playback_id")+".m3u8", nil); !strings.Contains(string(r.body), "asset is not ready (preparing)") {
		t.Fatalf("play a preparing asset: %s", r.body)
	}

	// Cancelling the queued clip job errors its asset; a second cancel
	// changes nothing.
	j := adm.must(200, "DELETE", "/v1/jobs/"+str(cj, "id"), nil).json(t)
	if j["state"] != "cancelled" || j["cancel_requested"] != true || j["finished_at"] == nil {
		t.Fatalf("cancelled job = %v", j)
	}
	adm.must(200, "DELETE", "/v1/jobs/"+str(cj, "id"), nil)
	ca := adm.must(200, "GET", "/v1/assets/"+str(clip, "id"), nil).json(t)
	if ca["status"] != "errored" || !strings.Contains(str(ca, "error"), "cancelled") {
		t.Fatalf("asset of the cancelled job = %v", ca)
	}
	if r := e.anon.must(409, "GET", "/v1/play/"+str(clip, "playback_id")+".m3u8", nil); !strings.Contains(string(r.body), "asset is not ready (errored: job ") {
		t.Fatalf("play an errored asset: %s", r.body)
	}
	adm.must(404, "GET", "/v1/jobs/job_nosuchjob", nil)
	adm.must(404, "DELETE", "/v1/jobs/job_nosuchjob", nil)
	adm.must(404, "GET", "/v1/assets/ast_nosuchasset", nil)
	adm.must(404, "DELETE", "/v1/assets/ast_nosuchasset", nil)

	// Lists filter and page, newest first.
	if got := itemIDs(t, adm.must(200, "GET", "/v1/assets?type=clip&status=errored", nil)); len(got) != 1 || got[0] != clip["id"] {
		t.Fatalf("errored clips = %v", got)
	}
	if got := itemIDs(t, adm.must(200, "GET", "/v1/jobs?state=cancelled&type=clip", nil)); len(got) != 1 || got[0] != cj["id"] {
		t.Fatalf("cancelled clip jobs = %v", got)
	}
	for range 3 {
		e.readyAsset(e.orgA)
		e.queuedJob(e.orgA)
	}
	for _, list := range []string{"/v1/assets", "/v1/jobs"} {
		all := itemIDs(t, adm.must(200, "GET", list, nil))
		var paged []string
		cursor := ""
		for range 10 {
			r := adm.must(200, "GET", list+"?limit=2&cursor="+cursor, nil)
			paged = append(paged, itemIDs(t, r)...)
			if cursor = str(r.json(t), "next_cursor"); cursor == "" {
				break
			}
		}
		if len(all) < 5 || fmt.Sprint(all) != fmt.Sprint(paged) {
			t.Errorf("%s: pages of 2 give %v, one page %v", list, paged, all)
		}
	}
	for _, q := range []string{"/v1/assets?status=done", "/v1/assets?type=live", "/v1/assets?limit=0", "/v1/assets?limit=201",
		"/v1/assets?limit=x", "/v1/jobs?state=stuck", "/v1/jobs?limit=-1", "/v1/jobs?cursor=" + strings.Repeat("c", 300)} {
		if r := adm.do("GET", q, nil); r.status != 400 || r.code() != "invalid" {
			t.Errorf("GET %s: %d %s", q, r.status, r.body)
		}
	}

	// Uploads: the declared size is checked.
	for size, want := range map[any]int{int64(11 << 30): 413, 0: 400, -5: 400, "big": 400, 1.5: 400} {
		r := adm.do("POST", "/v1/uploads", map[string]any{"size": size})
		if r.status != want {
			t.Errorf("upload of size %v: %d %s, want %d", size, r.status, r.body, want)
		}
		if want == 413 && (r.code() != "too_large" || !strings.Contains(string(r.body), "file is 11 GiB, over the 10 GiB upload limit")) {
			t.Errorf("upload over the limit: %s", r.body)
		}
	}
	// The size is required: the URL is signed for it.
	if r := adm.do("POST", "/v1/uploads", nil); r.status != 400 || !strings.Contains(string(r.body), "size is required") {
		t.Fatalf("upload with no size: %d %s", r.status, r.body)
	}
	if up := adm.must(201, "POST", "/v1/uploads", map[string]any{"size": 5}).json(t); sub(t, up, "asset")["playback_policy"] != "public" {
		t.Fatalf("upload with no policy = %v", up)
	}

	checkNoSecrets(t, e.rec)
}

// TestAssetsWithoutJobsOrStore: a control plane with no object store and
// no job service still lists and deletes, and says 503 for the rest.
func TestAssetsWithoutJobsOrStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.Jobs, c.Store, c.Directory = nil, nil, nil }})
	src := e.readyAsset(e.orgA)
	job := e.queuedJob(e.orgA)
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/uploads", map[string]any{"size": 10}},
		{"POST", "/v1/assets/" + src.ID + "/clips", map[string]any{"start": 0, "end": 5}},
		{"DELETE", "/v1/jobs/" + job.ID, nil},
		{"GET", "/v1/play/" + src.PlaybackID + ".m3u8", nil},
	} {
		if a := e.admin.do(r.method, r.path, r.body); a.status != 503 || a.code() != "unavailable" {
			t.Errorf("%s %s: %d %s, want 503", r.method, r.path, a.status, a.body)
		}
	}
	e.admin.must(200, "GET", "/v1/assets", nil)
	e.admin.must(200, "GET", "/v1/jobs/"+job.ID, nil)
	e.admin.must(204, "DELETE", "/v1/assets/"+src.ID, nil)
	e.admin.must(404, "GET", "/v1/assets/"+src.ID, nil)
}

// TestUploadLimitConfigured: the limit and URL lifetime come from Config.
func TestUploadLimitConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.Uploads = directupload.Limits{MaxBytes: 1000, URLTTL: 10 * time.Minute} }})
	r := e.admin.must(413, "POST", "/v1/uploads", map[string]any{"size": 1001})
	if !bytes.Contains(r.body, []byte("file is 1001 bytes, over the 1000 bytes upload limit")) {
		t.Fatalf("413 message: %s", r.body)
	}
	up := e.admin.must(201, "POST", "/v1/uploads", map[string]any{"size": 1000}).json(t)
	exp, _ := time.Parse(time.RFC3339, str(up, "expires_at"))
	if up["max_bytes"] != 1000.0 || time.Until(exp) > 11*time.Minute {
		t.Fatalf("upload answer = %v", up)
	}
}

// putUpload PUTs body to an upload answer's URL with its headers.
func putUpload(t *testing.T, up map[string]any, body string) int {
	t.Helper()
	req, _ := http.NewRequest("PUT", str(up, "upload_url"), strings.NewReader(body))
	if h, ok := up["headers"].(map[string]any); ok {
		for k, v := range h {
			req.Header.Set(k, v.(string))
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT to the upload URL: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
