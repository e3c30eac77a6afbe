package fsm_test

import (
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
)

func (m *machine) target(stream, id string) state.RestreamTarget {
	m.t.Helper()
	var r state.RestreamTarget
	if err := m.store.View(func(tx *state.Tx) error { var err error; r, err = tx.RestreamTarget(stream, id); return err }); err != nil {
		m.t.Fatal(err)
	}
	return r
}

func (m *machine) events(org string) []state.Event {
	m.t.Helper()
	var out []state.Event
	if err := m.store.View(func(tx *state.Tx) error {
		var err error
		out, _, err = tx.OrgEventsAfter(org, "", state.EventFilter{}, 1000)
		return err
	}); err != nil {
		m.t.Fatal(err)
	}
	return out
}

// TestRestreamOrchestration: the commands that change whether a target
// relays queue and cancel its job in the same apply.
func TestRestreamOrchestration(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.must(fsm.CmdCreateStream, state.Stream{ID: "str_a", OrgID: "org_a", Name: "a", KeyHash: "kh", PlaybackID: "pb_str",
		PlaybackPolicy: state.PolicyPublic, LatencyMode: state.LatencyStandard}, nil)
	mk := func(id string, enabled bool, at time.Duration) {
		m.must(fsm.CmdCreateRestreamTarget, fsm.CreateRestreamTarget{Target: state.RestreamTarget{ID: id, OrgID: "org_a", StreamID: "str_a",
			Name: id, Preset: state.PresetYouTube, URL: state.PresetURL(state.PresetYouTube), KeySealed: "lsk1:x:sealed", Enabled: enabled,
			CreatedAt: t0.Add(at)}}, nil)
	}
	mk("rt_on", true, 0)
	mk("rt_off", false, time.Second)
	m.refuse(state.CodeInvalid, fsm.CmdCreateRestreamTarget, fsm.CreateRestreamTarget{Target: state.RestreamTarget{ID: "rt_bad", OrgID: "org_a",
		StreamID: "str_a", Name: "x", Preset: state.PresetCustom, URL: "http://example.com/app", KeySealed: "k", CreatedAt: t0}})
	if r := m.target("str_a", "rt_on"); r.Status != state.RestreamIdle || r.JobID != "" {
		t.Fatalf("a target of an idle stream: %+v", r)
	}

	m.must(fsm.CmdStartSession, fsm.StartSession{Session: state.Session{ID: "ses_1", StreamID: "str_a", OrgID: "org_a", EdgeID: "edge1", StartedAt: t0.Add(time.Minute)}}, nil)
	on := m.target("str_a", "rt_on")
	if on.Status != state.RestreamStarting || on.JobID == "" {
		t.Fatalf("enabled target once live: %+v", on)
	}
	j := m.job(on.JobID)
	if j.Type != protocol.JobRestream || j.PinnedEdge != "edge1" || j.SessionID != "ses_1" || j.State != state.JobQueued {
		t.Fatalf("restream job %+v", j)
	}
	if m.target("str_a", "rt_off").JobID != "" {
		t.Fatal("a disabled target got a job")
	}

	// Switching the other one on while live starts it; the edge leases and reports.
	yes, no := true, false
	m.must(fsm.CmdUpdateRestreamTarget, fsm.UpdateRestreamTarget{OrgID: "org_a", StreamID: "str_a", ID: "rt_off", Enabled: &yes, At: t0.Add(2 * time.Minute)}, nil)
	second := m.target("str_a", "rt_off")
	if second.Status != state.RestreamStarting || second.JobID == "" || second.JobID == on.JobID {
		t.Fatalf("switched on while live: %+v", second)
	}
	got := m.lease("edge1", "", 2*time.Minute, 10, protocol.JobRestream)
	if len(got) != 2 {
		t.Fatalf("edge1 leased %v", got)
	}
	m.must(fsm.CmdRestreamStatus, fsm.RestreamStatus{EdgeID: "edge1", JobID: on.JobID, Status: protocol.RestreamLive, At: t0.Add(3 * time.Minute)}, nil)
	var applied bool
	m.must(fsm.CmdRestreamStatus, fsm.RestreamStatus{EdgeID: "edge2", JobID: on.JobID, Status: protocol.RestreamFailed, At: t0.Add(3 * time.Minute)}, &applied)
	if applied || m.target("str_a", "rt_on").Status != state.RestreamLive {
		t.Fatal("another edge's report about the job changed the target")
	}
	m.must(fsm.CmdRestreamStatus, fsm.RestreamStatus{EdgeID: "edge1", JobID: on.JobID, Status: protocol.RestreamReconnecting, Error: "connection reset", At: t0.Add(4 * time.Minute)}, nil)
	if r := m.target("str_a", "rt_on"); r.Status != state.RestreamReconnecting || r.LastError != "connection reset" {
		t.Fatalf("reconnecting: %+v", r)
	}

	// Switching off cancels the running job (the edge learns by watching it).
	m.must(fsm.CmdUpdateRestreamTarget, fsm.UpdateRestreamTarget{OrgID: "org_a", StreamID: "str_a", ID: "rt_on", Enabled: &no, At: t0.Add(5 * time.Minute)}, nil)
	if r, j := m.target("str_a", "rt_on"), m.job(on.JobID); r.Status != state.RestreamStopped || !j.CancelRequested {
		t.Fatalf("switched off: target %+v, job %+v", r, j)
	}
	// The session ending stops the other.
	m.must(fsm.CmdEndSession, fsm.EndSession{ID: "ses_1", Reason: "unpublished", At: t0.Add(6 * time.Minute)}, nil)
	if r, j := m.target("str_a", "rt_off"), m.job(second.JobID); r.Status != state.RestreamStopped || !j.CancelRequested {
		t.Fatalf("session ended: target %+v, job %+v", r, j)
	}
	// Deleting a target of a live stream cancels its job.
	m.must(fsm.CmdStartSession, fsm.StartSession{Session: state.Session{ID: "ses_2", StreamID: "str_a", OrgID: "org_a", EdgeID: "edge1", StartedAt: t0.Add(7 * time.Minute)}}, nil)
	third := m.target("str_a", "rt_off")
	if third.JobID == second.JobID || third.Status != state.RestreamStarting {
		t.Fatalf("second session: %+v", third)
	}
	m.must(fsm.CmdDeleteRestreamTarget, fsm.DeleteRestreamTarget{OrgID: "org_a", StreamID: "str_a", ID: "rt_off", At: t0.Add(8 * time.Minute)}, nil)
	if j := m.job(third.JobID); j.State != state.JobCancelled {
		t.Fatalf("deleted target's queued job: %+v", j)
	}

	var types []string
	for _, e := range m.events("org_a") {
		if len(e.Type) > 9 && e.Type[:9] == "restream." {
			types = append(types, e.Type)
		}
	}
	want := []string{state.EventRestreamStarted, state.EventRestreamReconnecting, state.EventRestreamStopped, state.EventRestreamStopped, state.EventRestreamStopped}
	if len(types) != len(want) {
		t.Fatalf("restream events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("restream events %v, want %v", types, want)
		}
	}
}

// TestRestreamJobFailed: a relay whose job fails for good (its lease
// lapsed: the edge is gone) shows as failed, with the reason.
func TestRestreamJobFailed(t *testing.T) {
	m := newMachine(t)
	m.org("org_a")
	m.must(fsm.CmdCreateStream, state.Stream{ID: "str_a", OrgID: "org_a", Name: "a", KeyHash: "kh", PlaybackID: "pb_str",
		PlaybackPolicy: state.PolicyPublic, LatencyMode: state.LatencyStandard}, nil)
	m.must(fsm.CmdStartSession, fsm.StartSession{Session: state.Session{ID: "ses_1", StreamID: "str_a", OrgID: "org_a", EdgeID: "edge1", StartedAt: t0}}, nil)
	m.must(fsm.CmdCreateRestreamTarget, fsm.CreateRestreamTarget{Target: state.RestreamTarget{ID: "rt_1", OrgID: "org_a", StreamID: "str_a",
		Name: "t", Preset: state.PresetTwitch, URL: state.PresetURL(state.PresetTwitch), KeySealed: "k", Enabled: true, CreatedAt: t0}}, nil)
	if got := m.lease("edge1", "", time.Second, 1, protocol.JobRestream); len(got) != 1 {
		t.Fatalf("leased %v", got)
	}
	m.expire(time.Hour)
	r := m.target("str_a", "rt_1")
	if r.Status != state.RestreamFailed || r.LastError == "" || m.job(r.JobID).State != state.JobFailed {
		t.Fatalf("after the lease lapsed: %+v", r)
	}
}
