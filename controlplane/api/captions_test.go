package api

import (
	"testing"

	"github.com/livestreams/livestreams/controlplane/jobs"
)

// TestCaptions asks for an asset's captions: the job is the derived one,
// a second ask while it is queued is a conflict, the asset view lists the
// track, and bad languages and assets that are not ready are refused.
func TestCaptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	adm := e.admin
	a := e.readyAsset(e.orgA)

	adm.must(400, "POST", "/v1/assets/"+a.ID+"/captions", map[string]any{})
	for _, bad := range []string{"english", "EN", "en_US", `en"`, "../x"} {
		adm.must(400, "POST", "/v1/assets/"+a.ID+"/captions", map[string]any{"language": bad})
	}
	adm.must(404, "POST", "/v1/assets/ast_nope/captions", map[string]any{"language": "en"})

	j := adm.must(201, "POST", "/v1/assets/"+a.ID+"/captions", map[string]any{"language": "en"}).json(t)
	if str(j, "id") != jobs.CaptionsJobID(a.ID, "en", 0) || str(j, "type") != "captions" || str(j, "state") != "queued" || str(j, "asset_id") != a.ID {
		t.Fatalf("captions job: %v", j)
	}
	if c := adm.must(409, "POST", "/v1/assets/"+a.ID+"/captions", map[string]any{"language": "en"}).code(); c != "conflict" {
		t.Fatalf("second ask: %s", c)
	}
	adm.must(201, "POST", "/v1/assets/"+a.ID+"/captions", map[string]any{"language": "pt-BR"})

	v := adm.must(200, "GET", "/v1/assets/"+a.ID, nil).json(t)
	tracks, _ := v["captions"].([]any)
	if len(tracks) != 2 {
		t.Fatalf("asset captions: %v", v["captions"])
	}
	en := tracks[0].(map[string]any)
	if str(en, "language") != "en" || str(en, "status") != "queued" || str(en, "job_id") != str(j, "id") || str(en, "vtt_url") != "" {
		t.Fatalf("en track: %v", en)
	}
	// The asset's job is still the one that prepared it, not a captions job.
	if job, ok := v["job"].(map[string]any); ok && str(job, "type") == "captions" {
		t.Fatalf("asset job is a captions job: %v", job)
	}

	// Cancelled, it may be asked for again: the next generation.
	adm.must(200, "DELETE", "/v1/jobs/"+str(j, "id"), nil)
	again := adm.must(201, "POST", "/v1/assets/"+a.ID+"/captions", map[string]any{"language": "en"}).json(t)
	if str(again, "id") != jobs.CaptionsJobID(a.ID, "en", 1) {
		t.Fatalf("captions asked again: %v", again)
	}

	up := adm.must(201, "POST", "/v1/uploads", map[string]any{"size": 11}).json(t)
	upID := str(up["asset"].(map[string]any), "id")
	adm.must(409, "POST", "/v1/assets/"+upID+"/captions", map[string]any{"language": "en"})
}

// TestStreamCaptionsSettings sets a stream's automatic captions.
func TestStreamCaptionsSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	adm := e.admin
	adm.must(400, "POST", "/v1/streams", map[string]any{"name": "s", "auto_captions": true})
	adm.must(400, "POST", "/v1/streams", map[string]any{"name": "s", "auto_captions": true, "captions_language": "english"})
	s := adm.must(201, "POST", "/v1/streams", map[string]any{"name": "s", "auto_captions": true, "captions_language": "en"}).json(t)
	if s["auto_captions"] != true || str(s, "captions_language") != "en" {
		t.Fatalf("created: %v", s)
	}
	id := str(s, "id")
	u := adm.must(200, "PATCH", "/v1/streams/"+id, map[string]any{"captions_language": "fr"}).json(t)
	if u["auto_captions"] != true || str(u, "captions_language") != "fr" {
		t.Fatalf("updated: %v", u)
	}
	adm.must(400, "PATCH", "/v1/streams/"+id, map[string]any{"captions_language": ""})
	u = adm.must(200, "PATCH", "/v1/streams/"+id, map[string]any{"auto_captions": false}).json(t)
	if u["auto_captions"] != false {
		t.Fatalf("turned off: %v", u)
	}
}
