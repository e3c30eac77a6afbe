package state_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

func openStore(t *testing.T) *state.Store {
	t.Helper()
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func update(t *testing.T, s *state.Store, fn func(tx *state.Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestJobRoundTrip(t *testing.T) {
	s := openStore(t)
	ended := t0.Add(time.Minute)
	want := state.Job{
		ID: "job_a", OrgID: "org_a", Type: state.JobVOD, Payload: json.RawMessage(`{"source":"orgs/org_a/assets/ast_a/source.mp4"}`),
		State: state.JobRunning, Attempts: 2, MaxAttempts: 5, LastError: "exit status 1",
		History: []state.Attempt{
			{Edge: "edge1", StartedAt: t0, EndedAt: &ended, Error: "exit status 1"},
			{Edge: "edge2", StartedAt: ended},
		},
		Timeout: 2 * time.Hour, BackoffBase: 30 * time.Second, BackoffMax: 10 * time.Minute,
		LeaseHolder: "edge2", LeaseExpiresAt: ended.Add(30 * time.Second), QueuedAt: ended, NotBefore: ended,
		Region: "eu", Progress: state.Progress{Percent: 42.5, FPS: 120, Speed: 4, UpdatedAt: ended},
		AssetID: "ast_a", StreamID: "str_a", SessionID: "ses_a", CreatedAt: t0, UpdatedAt: ended,
		Result: json.RawMessage(`{"renditions":3}`),
	}
	update(t, s, func(tx *state.Tx) error { return tx.PutJob(want) })
	var got state.Job
	s.View(func(tx *state.Tx) error { var err error; got, err = tx.Job("job_a"); return err })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	s.View(func(tx *state.Tx) error {
		if _, err := tx.Job("job_missing"); !state.IsNotFound(err) {
			t.Errorf("missing job: %v, want not_found", err)
		}
		return nil
	})
}

func TestJobIndexes(t *testing.T) {
	s := openStore(t)
	job := func(id, org, st, asset string, created time.Duration) state.Job {
		return state.Job{ID: id, OrgID: org, Type: state.JobClip, State: st, MaxAttempts: 1, AssetID: asset, CreatedAt: t0.Add(created)}
	}
	update(t, s, func(tx *state.Tx) error {
		for _, j := range []state.Job{
			job("job_c", "org_a", state.JobQueued, "ast_1", 3*time.Second),
			job("job_a", "org_a", state.JobQueued, "ast_1", 1*time.Second),
			job("job_b", "org_b", state.JobQueued, "", 2*time.Second),
			job("job_d", "org_a", state.JobLeased, "ast_2", 4*time.Second),
		} {
			if err := tx.PutJob(j); err != nil {
				return err
			}
		}
		return nil
	})
	inState := func(st string) []string {
		var ids []string
		s.View(func(tx *state.Tx) error {
			return tx.JobsInState(st, func(j state.Job) bool { ids = append(ids, j.ID); return true })
		})
		return ids
	}
	if got := inState(state.JobQueued); !reflect.DeepEqual(got, []string{"job_a", "job_b", "job_c"}) {
		t.Errorf("queued oldest first = %v", got)
	}
	// A state change moves the job between index entries; the asset index
	// follows a change of asset.
	update(t, s, func(tx *state.Tx) error {
		j, _ := tx.Job("job_a")
		j.State, j.AssetID = state.JobLeased, "ast_2"
		return tx.PutJob(j)
	})
	if got := inState(state.JobQueued); !reflect.DeepEqual(got, []string{"job_b", "job_c"}) {
		t.Errorf("queued after a lease = %v", got)
	}
	if got := inState(state.JobLeased); !reflect.DeepEqual(got, []string{"job_a", "job_d"}) {
		t.Errorf("leased = %v", got)
	}
	s.View(func(tx *state.Tx) error {
		for asset, want := range map[string][]string{"ast_1": {"job_c"}, "ast_2": {"job_a", "job_d"}} {
			js, err := tx.JobsOfAsset(asset)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, j := range js {
				got = append(got, j.ID)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("jobs of %s = %v, want %v", asset, got, want)
			}
		}
		return nil
	})
	// Org and creation time are part of the index keys: fixed.
	update(t, s, func(tx *state.Tx) error {
		j, _ := tx.Job("job_c")
		j.OrgID = "org_b"
		if err := tx.PutJob(j); err == nil {
			t.Error("moving a job to another org succeeded")
		}
		return nil
	})
}

func TestJobsPagination(t *testing.T) {
	s := openStore(t)
	update(t, s, func(tx *state.Tx) error {
		for i := range 25 {
			org := "org_a"
			if i%5 == 4 {
				org = "org_ab" // a prefix-sharing org must not leak into org_a's pages
			}
			st := state.JobQueued
			if i%2 == 1 {
				st = state.JobSucceeded
			}
			j := state.Job{ID: fmt.Sprintf("job_%02d", i), OrgID: org, Type: state.JobVOD, State: st, MaxAttempts: 1,
				CreatedAt: t0.Add(time.Duration(i) * time.Second)}
			if err := tx.PutJob(j); err != nil {
				return err
			}
		}
		return nil
	})
	collect := func(limit int, keep func(state.Job) bool) (pages [][]string) {
		after := ""
		for range 30 {
			var page []state.Job
			var err error
			s.View(func(tx *state.Tx) error { page, after, err = tx.Jobs("org_a", after, limit, keep); return nil })
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, j := range page {
				ids = append(ids, j.ID)
			}
			pages = append(pages, ids)
			if after == "" {
				return pages
			}
		}
		t.Fatal("pagination does not end")
		return nil
	}
	all := collect(7, nil)
	var flat []string
	for _, p := range all {
		flat = append(flat, p...)
	}
	var want []string
	for i := 24; i >= 0; i-- {
		if i%5 != 4 {
			want = append(want, fmt.Sprintf("job_%02d", i))
		}
	}
	if !reflect.DeepEqual(flat, want) {
		t.Fatalf("pages %v\nwant newest first %v", all, want)
	}
	if len(all[0]) != 7 || len(all) != 3 {
		t.Errorf("page sizes %v, want 7, 7, 6", all)
	}
	queued := collect(4, func(j state.Job) bool { return j.State == state.JobQueued })
	var qflat []string
	for _, p := range queued {
		qflat = append(qflat, p...)
	}
	if want := []string{"job_22", "job_20", "job_18", "job_16", "job_12", "job_10", "job_08", "job_06", "job_02", "job_00"}; !reflect.DeepEqual(qflat, want) {
		t.Errorf("filtered pages %v, want %v", queued, want)
	}
	s.View(func(tx *state.Tx) error {
		if _, _, err := tx.Jobs("org_a", "", 0, nil); err == nil {
			t.Error("a zero limit was accepted")
		}
		if page, next, _ := tx.Jobs("org_none", "", 10, nil); len(page) != 0 || next != "" {
			t.Errorf("empty org: %v %q", page, next)
		}
		return nil
	})
}

func TestRetryDelay(t *testing.T) {
	for _, c := range []struct {
		base, max time.Duration
		attempts  int
		want      time.Duration
	}{
		{30 * time.Second, 10 * time.Minute, 1, 30 * time.Second},
		{30 * time.Second, 10 * time.Minute, 2, time.Minute},
		{30 * time.Second, 10 * time.Minute, 3, 2 * time.Minute},
		{30 * time.Second, 10 * time.Minute, 5, 8 * time.Minute},
		{30 * time.Second, 10 * time.Minute, 6, 10 * time.Minute},
		{30 * time.Second, 10 * time.Minute, 99, 10 * time.Minute},
		{time.Second, 0, 4, 8 * time.Second},
		{0, time.Minute, 3, 0},
	} {
		j := state.Job{BackoffBase: c.base, BackoffMax: c.max, Attempts: c.attempts}
		if got := j.RetryDelay(); got != c.want {
			t.Errorf("base %v max %v after attempt %d: %v, want %v", c.base, c.max, c.attempts, got, c.want)
		}
	}
}

func TestOverdueJobs(t *testing.T) {
	s := openStore(t)
	ended := t0.Add(-time.Minute)
	update(t, s, func(tx *state.Tx) error {
		for _, ses := range []state.Session{{ID: "ses_live", StartedAt: t0}, {ID: "ses_over", StartedAt: t0, EndedAt: &ended}} {
			if err := tx.PutSession(ses); err != nil {
				return err
			}
		}
		running := func(id string, started, expires time.Duration, timeout time.Duration) state.Job {
			return state.Job{ID: id, OrgID: "org_a", Type: state.JobVOD, State: state.JobRunning, MaxAttempts: 5, CreatedAt: t0.Add(-time.Hour),
				Timeout: timeout, LeaseHolder: "edge1", LeaseExpiresAt: t0.Add(expires),
				History: []state.Attempt{{Edge: "edge1", StartedAt: t0.Add(started)}}}
		}
		pinned := func(id, session string) state.Job {
			return state.Job{ID: id, OrgID: "org_a", Type: state.JobLive, State: state.JobQueued, MaxAttempts: 1, CreatedAt: t0.Add(-time.Hour),
				PinnedEdge: "edge1", SessionID: session}
		}
		for _, j := range []state.Job{
			running("job_fresh", -time.Minute, 20*time.Second, time.Hour),
			running("job_lapsed", -time.Minute, 0, time.Hour), // expiring exactly now counts
			running("job_slow", -time.Hour, 20*time.Second, time.Hour),
			running("job_forever", -48*time.Hour, 20*time.Second, 0),
			pinned("job_pin_live", "ses_live"),
			pinned("job_pin_over", "ses_over"),
		} {
			if err := tx.PutJob(j); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	s.View(func(tx *state.Tx) error {
		due, err := tx.OverdueJobs(t0)
		for _, d := range due {
			got = append(got, d.Job.ID+":"+d.Reason)
		}
		return err
	})
	want := []string{"job_lapsed:" + state.OverdueLeaseLapsed, "job_slow:" + state.OverdueTimedOut, "job_pin_over:" + state.OverdueSessionEnded}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("overdue = %v, want %v", got, want)
	}
}

func TestAssetRoundTripAndPlaybackIDs(t *testing.T) {
	s := openStore(t)
	ready := t0.Add(time.Minute)
	want := state.Asset{
		ID: "ast_a", OrgID: "org_a", Type: state.AssetRecording, StreamID: "str_a", SessionID: "ses_a",
		Status: state.AssetReady, PlaybackID: "pb_asset", PlaybackPolicy: state.PolicySigned,
		Duration: 61.5, Size: 12 << 20, SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		Tracks: []state.Track{
			{Type: "video", Codec: "h264", Width: 1920, Height: 1080, FPS: 30},
			{Type: "audio", Codec: "aac", Channels: 2, SampleRate: 48000},
		},
		Renditions:   []state.Rendition{{Name: "720p", Width: 1280, Height: 720, Bandwidth: 3_000_000}},
		ObjectPrefix: "orgs/org_a/assets/ast_a/", SourceKey: "orgs/org_a/assets/ast_a/source.mp4",
		Thumbnail:  "orgs/org_a/assets/ast_a/thumbnail.jpg",
		Storyboard: &state.Storyboard{Image: "orgs/org_a/assets/ast_a/storyboard.jpg", VTT: "orgs/org_a/assets/ast_a/storyboard.vtt"},
		Progress:   100, CreatedAt: t0, UpdatedAt: ready, ReadyAt: &ready,
	}
	update(t, s, func(tx *state.Tx) error {
		if err := tx.PutStream(state.Stream{ID: "str_a", OrgID: "org_a", KeyHash: "kh", PlaybackID: "pb_stream"}); err != nil {
			return err
		}
		return tx.PutAsset(want)
	})
	s.View(func(tx *state.Tx) error {
		got, err := tx.AssetByPlaybackID("pb_asset")
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("by playback id: %v\n got %+v\nwant %+v", err, got, want)
		}
		if _, err := tx.AssetByPlaybackID("pb_stream"); !state.IsNotFound(err) {
			t.Errorf("a stream's playback id found an asset: %v", err)
		}
		if page, _, err := tx.Assets("org_a", "", 10, nil); err != nil || len(page) != 1 {
			t.Errorf("org assets = %v, %v", page, err)
		}
		return nil
	})
	update(t, s, func(tx *state.Tx) error {
		other := state.Asset{ID: "ast_b", OrgID: "org_a", Type: state.AssetUpload, Status: state.AssetPreparing, CreatedAt: t0}
		for _, pid := range []string{"pb_asset", "pb_stream"} {
			other.PlaybackID = pid
			if err := tx.PutAsset(other); err == nil {
				t.Errorf("second owner of playback id %s accepted", pid)
			}
		}
		// A new playback id frees the old one.
		a, _ := tx.Asset("ast_a")
		a.PlaybackID = "pb_new"
		if err := tx.PutAsset(a); err != nil {
			return err
		}
		if _, err := tx.AssetByPlaybackID("pb_asset"); !state.IsNotFound(err) {
			t.Errorf("old playback id still resolves: %v", err)
		}
		return tx.DeleteAsset("ast_a")
	})
	s.View(func(tx *state.Tx) error {
		if _, err := tx.AssetByPlaybackID("pb_new"); !state.IsNotFound(err) {
			t.Errorf("deleted asset's playback id resolves: %v", err)
		}
		if page, _, _ := tx.Assets("org_a", "", 10, nil); len(page) != 0 {
			t.Errorf("deleted asset still listed: %v", page)
		}
		return nil
	})
}
