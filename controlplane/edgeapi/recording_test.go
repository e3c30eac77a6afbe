package edgeapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestRecordingUploadedWithLiveRenditions: a registration that brings the
// live renditions queues a recording-vod job that keeps them (VODJob.Live);
// registering again (the edge's queue may repeat itself after a crash or
// a lost answer) finds the same asset and job, whatever the repeat says;
// renditions outside the asset's prefix are refused.
func TestRecordingUploadedWithLiveRenditions(t *testing.T) {
	n, _, key := oneNode(t)
	js, err := jobs.New(jobs.Config{Node: n})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Node: n, Jobs: js})
	reply, err := authorize(t, s, "edge-a", protocol.AuthorizePublishRequest{StreamKey: key, Protocol: protocol.IngestRTMP})
	if err != nil {
		t.Fatal(err)
	}
	assetID := protocol.RecordingAssetID(reply.SessionID)
	prefix, _ := objstore.AssetPrefix("org_1", assetID)
	live := &protocol.LiveRenditions{Playlist: prefix + "hls/master.m3u8", Duration: 12.5, Segments: 7,
		Renditions: []protocol.Rendition{{Name: "480p", Width: 854, Height: 480, Bandwidth: 1600000}, {Name: "360p", Width: 640, Height: 360, Bandwidth: 900000}}}
	req := protocol.RecordingUploaded{SessionID: reply.SessionID, OrgID: "org_1", Key: prefix + objstore.SourceFile,
		Size: 1000, SHA256: strings.Repeat("ab", 32), Renditions: live}
	ctx := testutil.Context(t, 20*time.Second)
	peer := protocol.Peer{Hello: protocol.Hello{NodeID: "edge-a"}}

	register := func(r protocol.RecordingUploaded) protocol.RecordingUploadedReply {
		t.Helper()
		out, err := s.recordingUploaded(ctx, peer, r)
		if err != nil {
			t.Fatal(err)
		}
		return out.(protocol.RecordingUploadedReply)
	}
	first := register(req)
	again := register(req)
	withoutLive := req
	withoutLive.Renditions = nil
	third := register(withoutLive)
	if first.AssetID != assetID || again != first || third != first {
		t.Fatalf("registrations answered %+v, %+v, %+v: want the same asset %s and job", first, again, third, assetID)
	}

	var j state.Job
	var assets []state.Asset
	n.Store().View(func(tx *state.Tx) error {
		j, err = tx.Job(first.JobID)
		assets, _, _ = tx.Assets("org_1", "", 100, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(assets) != 1 {
		t.Errorf("%d assets after three registrations, want 1", len(assets))
	}
	var v protocol.VODJob
	if err := json.Unmarshal(j.Payload, &v); err != nil {
		t.Fatal(err)
	}
	if j.Type != state.JobRecordingVOD || v.Live == nil || v.Live.Playlist != live.Playlist || len(v.Live.Renditions) != 2 || v.SourceKey != req.Key {
		t.Errorf("job %s payload %+v: want a recording-vod job keeping the live renditions", j.Type, v)
	}

	for name, bad := range map[string]protocol.LiveRenditions{
		"another asset's playlist": {Playlist: "orgs/org_1/assets/ast_other/hls/master.m3u8", Duration: 1, Renditions: live.Renditions},
		"no renditions":            {Playlist: live.Playlist, Duration: 1},
		"a rendition path":         {Playlist: live.Playlist, Duration: 1, Renditions: []protocol.Rendition{{Name: "../x", Bandwidth: 1}}},
		"no duration":              {Playlist: live.Playlist, Renditions: live.Renditions},
	} {
		r := req
		r.Renditions = &bad
		if _, err := s.recordingUploaded(ctx, peer, r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
