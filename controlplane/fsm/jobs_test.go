package fsm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// machine is one FSM over a fresh store that records every entry it
// applies, so a test can replay its log elsewhere.
type machine struct {
	t     *testing.T
	f     *fsm.FSM
	store *state.Store
	log   [][]byte
}

func newMachine(t *testing.T) *machine {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &machine{t: t, f: fsm.New(st, slog.New(slog.DiscardHandler)), store: st}
}

func (m *machine) applyRaw(data []byte) fsm.Result {
	m.log = append(m.log, data)
	res, _ := m.f.Apply(&raft.Log{Index: uint64(len(m.log)), Type: raft.LogCommand, Data: data}).(fsm.Result)
	return res
}

// do applies a command and decodes its value into out (when not nil); it
// returns the state error that refused it, if any.
func (m *machine) do(typ string, body, out any) *state.Error {
	m.t.Helper()
	data, err := fsm.Encode(typ, body)
	if err != nil {
		m.t.Fatal(err)
	}
	res := m.applyRaw(data)
	if res.Err == nil && out != nil && len(res.Value) > 0 {
		reflect.ValueOf(out).Elem().SetZero() // omitted fields must not keep old values
		if err := json.Unmarshal(res.Value, out); err != nil {
			m.t.Fatalf("%s: decode result: %v", typ, err)
		}
	}
	return res.Err
}

// must applies a command that must succeed.
func (m *machine) must(typ string, body, out any) {
	m.t.Helper()
	if err := m.do(typ, body, out); err != nil {
		m.t.Fatalf("%s: %s: %s", typ, err.Code, err.Message)
	}
}

// refuse applies a command that must fail with code.
func (m *machine) refuse(code, typ string, body any) {
	m.t.Helper()
	err := m.do(typ, body, nil)
	if err == nil || err.Code != code {
		m.t.Fatalf("%s: got %v, want %s", typ, err, code)
	}
}

func (m *machine) job(id string) state.Job {
	m.t.Helper()
	var j state.Job
	if err := m.store.View(func(tx *state.Tx) error { var err error; j, err = tx.Job(id); return err }); err != nil {
		m.t.Fatal(err)
	}
	return j
}

func (m *machine) asset(id string) state.Asset {
	m.t.Helper()
	var a state.Asset
	if err := m.store.View(func(tx *state.Tx) error { var err error; a, err = tx.Asset(id); return err }); err != nil {
		m.t.Fatal(err)
	}
	return a
}

func (m *machine) org(id string) {
	m.must(fsm.CmdCreateOrg, fsm.CreateOrg{Org: state.Org{ID: id, Name: id, CreatedAt: t0}}, nil)
}

func (m *machine) newAsset(id, org string) {
	m.must(fsm.CmdCreateAsset, fsm.CreateAsset{Asset: state.Asset{ID: id, OrgID: org, Type: state.AssetUpload,
		PlaybackID: "pb_" + id, PlaybackPolicy: state.PolicyPublic, CreatedAt: t0}}, nil)
}

// enqueue creates a job of the given type at t0+at with test-sized
// backoff (10 s doubling to 15 s).
func (m *machine) enqueue(id, typ string, at time.Duration, edit func(*state.Job)) state.Job {
	m.t.Helper()
	j := state.Job{ID: id, OrgID: "org_a", Type: typ, MaxAttempts: 3, BackoffBase: 10 * time.Second, BackoffMax: 15 * time.Second,
		Payload: json.RawMessage(`{"in":"source.mp4"}`), CreatedAt: t0.Add(at)}
	if edit != nil {
		edit(&j)
	}
	var out state.Job
	m.must(fsm.CmdCreateJob, fsm.CreateJob{Job: j}, &out)
	return out
}

const ttl = 30 * time.Second

func (m *machine) lease(edge, region string, at time.Duration, max int, types ...string) []string {
	m.t.Helper()
	if len(types) == 0 {
		types = []string{state.JobVOD, state.JobClip, state.JobLive}
	}
	var got []state.Job
	m.must(fsm.CmdLeaseJobs, fsm.LeaseJobs{EdgeID: edge, Types: types, Region: region, Max: max, Now: t0.Add(at), TTL: ttl,
		RegionGrace: 15 * time.Second}, &got)
	ids := []string{}
	for _, j := range got {
		if j.LeaseHolder != edge || j.State != state.JobLeased || !j.LeaseExpiresAt.Equal(t0.Add(at+ttl)) {
			m.t.Fatalf("leased job %+v", j)
		}
		ids = append(ids, j.ID)
	}
	return ids
}

func (m *machine) renew(edge string, at time.Duration, reports ...fsm.JobReport) fsm.RenewResult {
	m.t.Helper()
	var res fsm.RenewResult
	m.must(fsm.CmdRenewLease, fsm.RenewLease{EdgeID: edge, Jobs: reports, Now: t0.Add(at), TTL: ttl}, &res)
	return res
}

func (m *machine) fail(edge, id string, at time.Duration, msg string) state.Job {
	m.t.Helper()
	var j state.Job
	m.must(fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: edge, ID: id, Now: t0.Add(at), Error: msg}, &j)
	return j
}

func (m *machine) expire(at time.Duration) fsm.ExpireResult {
	m.t.Helper()
	var res fsm.ExpireResult
	m.must(fsm.CmdExpireLeases, fsm.ExpireLeases{Now: t0.Add(at)}, &res)
	return res
}

func report(id string, pct float64) fsm.JobReport {
	return fsm.JobReport{ID: id, Progress: &state.Progress{Percent: pct, FPS: 60, Speed: 2}}
}

func attempts(j state.Job) []string {
	var out []string
	for _, a := range j.History {
		s := a.Edge
		if a.EndedAt != nil {
			s += " ended"
		}
		if a.Error != "" {
			s += ": " + a.Error
		}
		out = append(out, s)
	}
	return out
}

func TestJobSucceeds(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.newAsset("ast_a", "org_a")
	m.enqueue("job_a", state.JobVOD, 0, func(j *state.Job) { j.AssetID = "ast_a" })
	if got := m.lease("edge1", "", time.Second, 5); !slices.Equal(got, []string{"job_a"}) {
		t.Fatalf("leased %v", got)
	}
	res := m.renew("edge1", 10*time.Second, report("job_a", 40))
	if !slices.Equal(res.Renewed, []string{"job_a"}) || len(res.Cancelled)+len(res.Lost) != 0 {
		t.Fatalf("renew = %+v", res)
	}
	j := m.job("job_a")
	if j.State != state.JobRunning || j.Progress.Percent != 40 || !j.Progress.UpdatedAt.Equal(t0.Add(10*time.Second)) ||
		!j.LeaseExpiresAt.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("after renew: %+v", j)
	}
	if a := m.asset("ast_a"); a.Progress != 40 {
		t.Errorf("asset progress %v, want the job's 40", a.Progress)
	}
	done := fsm.CompleteJob{EdgeID: "edge1", ID: "job_a", Now: t0.Add(20 * time.Second), Succeeded: true, Result: json.RawMessage(`{"renditions":3}`)}
	m.refuse(state.CodeConflict, fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "edge2", ID: "job_a", Now: t0.Add(20 * time.Second), Succeeded: true})
	m.must(fsm.CmdCompleteJob, done, &j)
	if j.State != state.JobSucceeded || j.FinishedAt == nil || j.LeaseHolder != "" || string(j.Result) != `{"renditions":3}` ||
		!slices.Equal(attempts(j), []string{"edge1 ended"}) || j.Progress.Percent != 100 {
		t.Fatalf("succeeded job: %+v", j)
	}
	// A retried report of the same success is accepted; a failure is not.
	m.must(fsm.CmdCompleteJob, done, nil)
	m.refuse(state.CodeConflict, fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "edge1", ID: "job_a", Now: t0.Add(21 * time.Second), Error: "late"})
	if res := m.renew("edge1", 25*time.Second, report("job_a", 100)); !slices.Equal(res.Lost, []string{"job_a"}) {
		t.Errorf("renewing a finished job: %+v, want lost", res)
	}
	if a := m.asset("ast_a"); a.Status != state.AssetPreparing {
		t.Errorf("success changed the asset status to %s; set_asset_ready does that", a.Status)
	}
}

func TestJobBackoffAndExhaustion(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.newAsset("ast_a", "org_a")
	m.enqueue("job_a", state.JobClip, 0, func(j *state.Job) { j.AssetID = "ast_a" })

	m.lease("edge1", "", 0, 1)
	j := m.fail("edge1", "job_a", 5*time.Second, "exit status 1")
	if j.State != state.JobQueued || j.Attempts != 1 || !j.NotBefore.Equal(t0.Add(15*time.Second)) || j.LastError != "exit status 1" {
		t.Fatalf("after the first failure: %+v", j)
	}
	if got := m.lease("edge1", "", 14*time.Second, 1); len(got) != 0 {
		t.Fatalf("leased %v during the backoff", got)
	}
	m.lease("edge2", "", 15*time.Second, 1)
	// Second failure: the 20 s doubling is capped at 15 s.
	j = m.fail("edge2", "job_a", 20*time.Second, "")
	if j.State != state.JobQueued || !j.NotBefore.Equal(t0.Add(35*time.Second)) || j.LastError != "failed" {
		t.Fatalf("after the second failure: %+v", j)
	}
	m.lease("edge1", "", 35*time.Second, 1)
	j = m.fail("edge1", "job_a", 40*time.Second, "no space left on device")
	if j.State != state.JobFailed || j.Attempts != 3 || j.FinishedAt == nil {
		t.Fatalf("after the last attempt: %+v", j)
	}
	want := []string{"edge1 ended: exit status 1", "edge2 ended: failed", "edge1 ended: no space left on device"}
	if got := attempts(j); !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
	if got := m.lease("edge1", "", time.Hour, 1); len(got) != 0 {
		t.Errorf("a failed job was leased again: %v", got)
	}
	if a := m.asset("ast_a"); a.Status != state.AssetErrored || a.Error == "" {
		t.Errorf("the asset of a failed job: %s %q, want errored", a.Status, a.Error)
	}

	// A permanent failure ends the job at the first attempt.
	m.enqueue("job_b", state.JobClip, time.Hour, nil)
	m.lease("edge1", "", time.Hour, 1)
	m.must(fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "edge1", ID: "job_b", Now: t0.Add(time.Hour + time.Second), Error: "not media", Permanent: true}, &j)
	if j.State != state.JobFailed || j.Attempts != 1 {
		t.Errorf("permanent failure: %+v", j)
	}
}

func TestLapsedLeaseGoesToAnotherEdge(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.enqueue("job_a", state.JobVOD, 0, nil)
	m.lease("edge1", "", 0, 1)
	m.renew("edge1", 10*time.Second, report("job_a", 10)) // lease now ends at 40 s

	if res := m.expire(39 * time.Second); len(res.Requeued)+len(res.Failed)+len(res.Cancelled) != 0 {
		t.Fatalf("expired a live lease: %+v", res)
	}
	if res := m.expire(40 * time.Second); !slices.Equal(res.Requeued, []string{"job_a"}) {
		t.Fatalf("expire = %+v, want job_a re-queued", res)
	}
	j := m.job("job_a")
	if j.State != state.JobQueued || j.LeaseHolder != "" || !j.NotBefore.Equal(t0.Add(50*time.Second)) || j.LastError != state.OverdueLeaseLapsed {
		t.Fatalf("re-queued job: %+v", j)
	}
	// The old holder learns it lost the job; it cannot complete it.
	if res := m.renew("edge1", 45*time.Second, report("job_a", 20)); !slices.Equal(res.Lost, []string{"job_a"}) {
		t.Fatalf("renew by the old holder: %+v", res)
	}
	m.refuse(state.CodeConflict, fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "edge1", ID: "job_a", Now: t0.Add(46 * time.Second), Succeeded: true})

	if got := m.lease("edge2", "", 50*time.Second, 1); !slices.Equal(got, []string{"job_a"}) {
		t.Fatalf("edge2 leased %v", got)
	}
	m.must(fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "edge2", ID: "job_a", Now: t0.Add(60 * time.Second), Succeeded: true}, &j)
	want := []string{"edge1 ended: lease lapsed", "edge2 ended"}
	if got := attempts(j); j.State != state.JobSucceeded || j.Attempts != 2 || !slices.Equal(got, want) {
		t.Errorf("job %s after %d attempts, history %v; want succeeded, 2, %v", j.State, j.Attempts, got, want)
	}
}

func TestRenewalBeforeExpiryWins(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.enqueue("job_a", state.JobVOD, 0, nil)
	m.lease("edge1", "", 0, 1)
	// The renewal is judged late (after the lease's end) but applied before
	// the reaper's command: the edge is alive, so it keeps the job.
	if res := m.renew("edge1", 31*time.Second); !slices.Equal(res.Renewed, []string{}) {
		t.Fatalf("renew of no jobs: %+v", res)
	}
	if res := m.renew("edge1", 31*time.Second, report("job_a", 50)); !slices.Equal(res.Renewed, []string{"job_a"}) {
		t.Fatalf("late renew: %+v", res)
	}
	if res := m.expire(31 * time.Second); len(res.Requeued) != 0 {
		t.Fatalf("expired a renewed lease: %+v", res)
	}
}

func TestTimeout(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.enqueue("job_a", state.JobVOD, 0, func(j *state.Job) { j.Timeout = time.Minute; j.MaxAttempts = 2 })
	m.lease("edge1", "", 0, 1)
	for at := 20 * time.Second; at < time.Minute; at += 20 * time.Second {
		m.renew("edge1", at, report("job_a", 1))
	}
	if res := m.expire(time.Minute); !slices.Equal(res.Requeued, []string{"job_a"}) {
		t.Fatalf("expire at the timeout = %+v", res)
	}
	if got := attempts(m.job("job_a")); !slices.Equal(got, []string{"edge1 ended: timed out after 1m0s"}) {
		t.Errorf("history %v", got)
	}
	if res := m.renew("edge1", 61*time.Second, report("job_a", 1)); !slices.Equal(res.Lost, []string{"job_a"}) {
		t.Errorf("the timed-out holder was not told to stop: %+v", res)
	}
	m.lease("edge2", "", 2*time.Minute, 1)
	if res := m.expire(3 * time.Minute); !slices.Equal(res.Failed, []string{"job_a"}) {
		t.Errorf("second timeout with no attempts left = %+v, want failed", res)
	}
}

func TestCancel(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.org("org_b")
	m.enqueue("job_queued", state.JobVOD, 0, nil)
	m.enqueue("job_running", state.JobVOD, time.Second, nil)
	m.enqueue("job_lapsing", state.JobVOD, 2*time.Second, nil)
	m.enqueue("job_done", state.JobVOD, 3*time.Second, nil)

	var j state.Job
	m.refuse(state.CodeNotFound, fsm.CmdCancelJob, fsm.CancelJob{OrgID: "org_b", ID: "job_queued", At: t0.Add(10 * time.Second)})
	m.must(fsm.CmdCancelJob, fsm.CancelJob{OrgID: "org_a", ID: "job_queued", At: t0.Add(10 * time.Second)}, &j)
	if j.State != state.JobCancelled || j.FinishedAt == nil {
		t.Fatalf("cancelled queued job: %+v", j)
	}
	if got := m.lease("edge1", "", 10*time.Second, 10); !slices.Equal(got, []string{"job_running", "job_lapsing", "job_done"}) {
		t.Fatalf("leased %v", got)
	}
	m.must(fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "edge1", ID: "job_done", Now: t0.Add(11 * time.Second), Succeeded: true}, nil)
	m.refuse(state.CodeConflict, fsm.CmdCancelJob, fsm.CancelJob{ID: "job_done", At: t0.Add(12 * time.Second)})

	for _, id := range []string{"job_running", "job_lapsing", "job_running"} { // twice: idempotent
		m.must(fsm.CmdCancelJob, fsm.CancelJob{OrgID: "org_a", ID: id, At: t0.Add(12 * time.Second)}, &j)
		if j.State != state.JobLeased || !j.CancelRequested {
			t.Fatalf("cancel of a leased job: %+v", j)
		}
	}
	res := m.renew("edge1", 15*time.Second, report("job_running", 30))
	if !slices.Equal(res.Cancelled, []string{"job_running"}) || len(res.Renewed) != 0 {
		t.Fatalf("renew after cancel: %+v", res)
	}
	if j = m.job("job_running"); j.State != state.JobCancelled || !slices.Equal(attempts(j), []string{"edge1 ended: cancelled"}) {
		t.Fatalf("job cancelled at renewal: %+v", j)
	}
	if ex := m.expire(time.Minute); !slices.Equal(ex.Cancelled, []string{"job_lapsing"}) {
		t.Fatalf("a cancelled job whose lease lapsed: %+v, want cancelled", ex)
	}
	m.must(fsm.CmdCancelJob, fsm.CancelJob{ID: "job_lapsing", At: t0.Add(2 * time.Minute)}, nil) // cancelling again is fine
}

func TestPinnedJobs(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.must(fsm.CmdCreateStream, state.Stream{ID: "str_a", OrgID: "org_a", Name: "a", KeyHash: "kh", PlaybackID: "pb_str",
		PlaybackPolicy: state.PolicyPublic, LatencyMode: state.LatencyStandard}, nil)
	for _, ses := range []string{"ses_1", "ses_2"} {
		m.must(fsm.CmdStartSession, fsm.StartSession{Session: state.Session{ID: ses, StreamID: "str_a", OrgID: "org_a", EdgeID: "edge1", StartedAt: t0}}, nil)
		m.must(fsm.CmdEndSession, fsm.EndSession{ID: ses, Reason: "test", At: t0}, nil)
	}
	m.must(fsm.CmdStartSession, fsm.StartSession{Session: state.Session{ID: "ses_3", StreamID: "str_a", OrgID: "org_a", EdgeID: "edge1", StartedAt: t0}}, nil)
	pin := func(session string) func(*state.Job) {
		return func(j *state.Job) { j.PinnedEdge, j.SessionID, j.StreamID = "edge1", session, "str_a" }
	}
	m.enqueue("job_pinned", state.JobLive, 0, pin("ses_3")) // 3 attempts, yet a lapse ends it
	m.enqueue("job_orphan", state.JobLive, time.Second, pin("ses_2"))
	m.enqueue("job_free", state.JobVOD, 2*time.Second, nil)

	if got := m.lease("edge2", "", 5*time.Second, 10); !slices.Equal(got, []string{"job_free"}) {
		t.Fatalf("edge2 leased %v; pinned jobs are edge1's", got)
	}
	if got := m.lease("edge1", "", 5*time.Second, 1, state.JobLive); !slices.Equal(got, []string{"job_pinned"}) {
		t.Fatalf("edge1 leased %v", got)
	}
	res := m.expire(time.Minute)
	if !slices.Equal(res.Failed, []string{"job_pinned"}) || !slices.Equal(res.Cancelled, []string{"job_orphan"}) {
		t.Fatalf("expire = %+v; want the lapsed pinned job failed, the one of an ended session cancelled", res)
	}
	if j := m.job("job_pinned"); j.Attempts != 1 || j.LastError != state.OverdueLeaseLapsed {
		t.Errorf("pinned job: %+v", j)
	}
}

func TestRegionPreference(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	region := func(r string) func(*state.Job) { return func(j *state.Job) { j.Region = r } }
	m.enqueue("job_eu", state.JobVOD, 0, region("eu"))
	m.enqueue("job_any", state.JobVOD, time.Second, nil)
	m.enqueue("job_us", state.JobVOD, 2*time.Second, region("us"))
	m.enqueue("job_pin", state.JobVOD, 3*time.Second, func(j *state.Job) { j.PinnedEdge = "edge-us" })
	m.enqueue("job_us2", state.JobVOD, 4*time.Second, region("us"))

	// Pinned first, then own region oldest first, then no preference; the
	// eu job waits for an eu edge during the grace period.
	if got := m.lease("edge-us", "us", 10*time.Second, 10); !slices.Equal(got, []string{"job_pin", "job_us", "job_us2", "job_any"}) {
		t.Fatalf("us edge leased %v", got)
	}
	if got := m.lease("edge-us2", "us", 14*time.Second, 10); len(got) != 0 {
		t.Fatalf("leased %v before the grace period ended", got)
	}
	if got := m.lease("edge-us2", "us", 15*time.Second, 10); !slices.Equal(got, []string{"job_eu"}) {
		t.Fatalf("after the grace period: %v", got)
	}
	// Max and types are obeyed.
	m.enqueue("job_clip", state.JobClip, 20*time.Second, nil)
	m.enqueue("job_vod1", state.JobVOD, 21*time.Second, nil)
	m.enqueue("job_vod2", state.JobVOD, 22*time.Second, nil)
	if got := m.lease("edge-eu", "eu", 30*time.Second, 1, state.JobVOD); !slices.Equal(got, []string{"job_vod1"}) {
		t.Fatalf("max 1 of vod: %v", got)
	}
}

func TestAssetCommands(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.org("org_b")
	m.newAsset("ast_src", "org_a")
	clip := state.Asset{ID: "ast_clip", OrgID: "org_a", Type: state.AssetClip, SourceAssetID: "ast_src", PlaybackID: "pb_clip",
		PlaybackPolicy: state.PolicySigned, Status: state.AssetReady, CreatedAt: t0}
	var a state.Asset
	m.must(fsm.CmdCreateAsset, fsm.CreateAsset{Asset: clip}, &a)
	if a.Status != state.AssetPreparing || !a.UpdatedAt.Equal(t0) {
		t.Fatalf("created asset: %+v", a)
	}
	m.refuse(state.CodeConflict, fsm.CmdCreateAsset, fsm.CreateAsset{Asset: clip})
	dup := clip
	dup.ID = "ast_dup"
	m.refuse(state.CodeConflict, fsm.CmdCreateAsset, fsm.CreateAsset{Asset: dup}) // playback id taken

	dur, key := 12.5, "orgs/org_a/assets/ast_clip/source.mp4"
	m.must(fsm.CmdUpdateAsset, fsm.UpdateAsset{OrgID: "org_a", ID: "ast_clip", Media: fsm.AssetMedia{Duration: &dur, SourceKey: &key},
		At: t0.Add(time.Second)}, &a)
	if a.Duration != 12.5 || a.SourceKey != key || a.Status != state.AssetPreparing {
		t.Fatalf("updated asset: %+v", a)
	}
	m.refuse(state.CodeNotFound, fsm.CmdUpdateAsset, fsm.UpdateAsset{OrgID: "org_b", ID: "ast_clip", At: t0})
	bad := "sometimes"
	m.refuse(state.CodeInvalid, fsm.CmdUpdateAsset, fsm.UpdateAsset{ID: "ast_clip", PlaybackPolicy: &bad, At: t0})

	rends := []state.Rendition{{Name: "720p", Width: 1280, Height: 720, Bandwidth: 3_000_000}}
	m.must(fsm.CmdSetAssetReady, fsm.SetAssetReady{ID: "ast_clip", Media: fsm.AssetMedia{Renditions: &rends}, At: t0.Add(time.Minute)}, &a)
	if a.Status != state.AssetReady || a.ReadyAt == nil || !a.ReadyAt.Equal(t0.Add(time.Minute)) || len(a.Renditions) != 1 || a.Duration != 12.5 {
		t.Fatalf("ready asset: %+v", a)
	}
	m.refuse(state.CodeConflict, fsm.CmdSetAssetErrored, fsm.SetAssetErrored{ID: "ast_clip", Error: "late", At: t0.Add(2 * time.Minute)})
	m.must(fsm.CmdSetAssetErrored, fsm.SetAssetErrored{ID: "ast_src", Error: "not media", At: t0.Add(time.Minute)}, &a)
	if a.Status != state.AssetErrored || a.Error != "not media" {
		t.Fatalf("errored asset: %+v", a)
	}

	// Deleting an asset cancels its unfinished jobs.
	m.enqueue("job_q", state.JobVOD, time.Hour, func(j *state.Job) { j.AssetID = "ast_clip" })
	m.enqueue("job_r", state.JobVOD, time.Hour+time.Second, func(j *state.Job) { j.AssetID = "ast_clip" })
	m.lease("edge1", "", time.Hour+2*time.Second, 1, state.JobVOD)
	m.refuse(state.CodeNotFound, fsm.CmdDeleteAsset, fsm.DeleteAsset{OrgID: "org_b", ID: "ast_clip", At: t0.Add(2 * time.Hour)})
	m.must(fsm.CmdDeleteAsset, fsm.DeleteAsset{OrgID: "org_a", ID: "ast_clip", At: t0.Add(2 * time.Hour)}, nil)
	if j := m.job("job_r"); j.State != state.JobCancelled {
		t.Errorf("queued job of a deleted asset is %s", j.State)
	}
	if j := m.job("job_q"); j.State != state.JobLeased || !j.CancelRequested {
		t.Errorf("leased job of a deleted asset: %s cancel=%v", j.State, j.CancelRequested)
	}
	m.refuse(state.CodeNotFound, fsm.CmdSetAssetReady, fsm.SetAssetReady{ID: "ast_clip", At: t0.Add(3 * time.Hour)})
}

func TestJobValidation(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.org("org_b")
	m.newAsset("ast_b", "org_b")
	good := state.Job{ID: "job_x", OrgID: "org_a", Type: "restream", MaxAttempts: 1, CreatedAt: t0}
	m.must(fsm.CmdCreateJob, fsm.CreateJob{Job: good}, nil) // a type this version has no policy for passes through
	now := t0.Add(time.Minute)
	for _, c := range []struct {
		name, code, typ string
		body            any
	}{
		{"duplicate id", state.CodeConflict, fsm.CmdCreateJob, fsm.CreateJob{Job: good}},
		{"no org", state.CodeNotFound, fsm.CmdCreateJob, fsm.CreateJob{Job: func() state.Job { j := good; j.ID, j.OrgID = "job_y", "org_none"; return j }()}},
		{"bad type", state.CodeInvalid, fsm.CmdCreateJob, fsm.CreateJob{Job: func() state.Job { j := good; j.ID, j.Type = "job_y", "VOD!"; return j }()}},
		{"no attempts", state.CodeInvalid, fsm.CmdCreateJob, fsm.CreateJob{Job: func() state.Job { j := good; j.ID, j.MaxAttempts = "job_y", 0; return j }()}},
		{"no time", state.CodeInvalid, fsm.CmdCreateJob, fsm.CreateJob{Job: func() state.Job { j := good; j.ID, j.CreatedAt = "job_y", time.Time{}; return j }()}},
		{"other org's asset", state.CodeNotFound, fsm.CmdCreateJob, fsm.CreateJob{Job: func() state.Job { j := good; j.ID, j.AssetID = "job_y", "ast_b"; return j }()}},
		{"missing session", state.CodeNotFound, fsm.CmdCreateJob, fsm.CreateJob{Job: func() state.Job { j := good; j.ID, j.SessionID = "job_y", "ses_none"; return j }()}},
		{"lease without edge", state.CodeInvalid, fsm.CmdLeaseJobs, fsm.LeaseJobs{Types: []string{"vod"}, Max: 1, Now: now, TTL: ttl}},
		{"lease without types", state.CodeInvalid, fsm.CmdLeaseJobs, fsm.LeaseJobs{EdgeID: "e", Max: 1, Now: now, TTL: ttl}},
		{"lease too many", state.CodeInvalid, fsm.CmdLeaseJobs, fsm.LeaseJobs{EdgeID: "e", Types: []string{"vod"}, Max: 1000, Now: now, TTL: ttl}},
		{"lease without ttl", state.CodeInvalid, fsm.CmdLeaseJobs, fsm.LeaseJobs{EdgeID: "e", Types: []string{"vod"}, Max: 1, Now: now}},
		{"renew without time", state.CodeInvalid, fsm.CmdRenewLease, fsm.RenewLease{EdgeID: "e", TTL: ttl}},
		{"complete unknown", state.CodeNotFound, fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "e", ID: "job_none", Now: now, Succeeded: true}},
		{"complete unleased", state.CodeConflict, fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "e", ID: "job_x", Now: now, Succeeded: true}},
		{"success with error", state.CodeInvalid, fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "e", ID: "job_x", Now: now, Succeeded: true, Error: "x"}},
		{"cancel unknown", state.CodeNotFound, fsm.CmdCancelJob, fsm.CancelJob{ID: "job_none", At: now}},
		{"expire without time", state.CodeInvalid, fsm.CmdExpireLeases, fsm.ExpireLeases{}},
		{"clip without source", state.CodeInvalid, fsm.CmdCreateAsset, fsm.CreateAsset{Asset: state.Asset{ID: "ast_c", OrgID: "org_a", Type: state.AssetClip,
			PlaybackID: "pb_c", PlaybackPolicy: state.PolicyPublic, CreatedAt: t0}}},
		{"unknown asset type", state.CodeInvalid, fsm.CmdCreateAsset, fsm.CreateAsset{Asset: state.Asset{ID: "ast_c", OrgID: "org_a", Type: "film",
			PlaybackID: "pb_c", PlaybackPolicy: state.PolicyPublic, CreatedAt: t0}}},
		{"bad sha256", state.CodeInvalid, fsm.CmdCreateAsset, fsm.CreateAsset{Asset: state.Asset{ID: "ast_c", OrgID: "org_a", Type: state.AssetUpload,
			PlaybackID: "pb_c", PlaybackPolicy: state.PolicyPublic, SHA256: "abc", CreatedAt: t0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := m.do(c.typ, c.body, nil)
			if err == nil || err.Code != c.code {
				t.Errorf("got %v, want %s", err, c.code)
			}
			var se *state.Error
			if err != nil && !errors.As(error(err), &se) {
				t.Errorf("not a state error: %T", err)
			}
		})
	}
}

// TestDeterminism replays the log of a busy job table (every command kind,
// accepted and refused) into two fresh state machines and expects
// byte-identical state files, equal to the original's.
func TestDeterminism(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.newAsset("ast_a", "org_a")
	for i, typ := range []string{state.JobVOD, state.JobClip, state.JobVOD, state.JobClip, state.JobVOD, state.JobVOD} {
		m.enqueue("job_"+string(rune('a'+i)), typ, time.Duration(i)*time.Second, func(j *state.Job) {
			j.AssetID = "ast_a"
			if i%2 == 0 {
				j.Region = "eu"
			}
		})
	}
	m.lease("edge1", "eu", 10*time.Second, 2)
	m.lease("edge2", "us", 40*time.Second, 2)
	m.renew("edge1", 20*time.Second, report("job_a", 10), report("job_c", 20), report("job_zz", 1))
	m.fail("edge1", "job_a", 25*time.Second, "boom")
	m.must(fsm.CmdCancelJob, fsm.CancelJob{ID: "job_c", At: t0.Add(26 * time.Second)}, nil)
	m.renew("edge1", 27*time.Second, report("job_c", 30))
	m.expire(2 * time.Minute)
	m.lease("edge3", "", 3*time.Minute, 10)
	m.do(fsm.CmdCompleteJob, fsm.CompleteJob{EdgeID: "edge1", ID: "job_b", Now: t0.Add(4 * time.Minute), Succeeded: true}, nil) // refused
	m.must(fsm.CmdSetAssetReady, fsm.SetAssetReady{ID: "ast_a", At: t0.Add(5 * time.Minute)}, nil)
	m.must(fsm.CmdDeleteAsset, fsm.DeleteAsset{ID: "ast_a", At: t0.Add(6 * time.Minute)}, nil)
	m.expire(time.Hour)

	// The content, not the file: bbolt lays out pages in an order that
	// changes from run to run once several buckets are large.
	snapshot := func(mm *machine) []byte {
		d, err := mm.store.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	want := snapshot(m)
	for i := range 2 {
		r := newMachine(t)
		for _, e := range m.log {
			r.applyRaw(e)
		}
		if got := snapshot(r); !bytes.Equal(got, want) {
			t.Fatalf("replay %d: state differs from the original (digest %x vs %x)", i, got, want)
		}
		var j1, j2 state.Job
		j1, j2 = m.job("job_c"), r.job("job_c")
		if !reflect.DeepEqual(j1, j2) {
			t.Fatalf("replay %d: job_c differs:\n%+v\n%+v", i, j1, j2)
		}
	}
}
