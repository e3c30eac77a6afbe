package edgeapi

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/testutil"
)

type sink struct {
	mu   sync.Mutex
	evs  []state.Event
	logs [][]string
}

func (s *sink) JobProgress(ev state.Event, log []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs, s.logs = append(s.evs, ev), append(s.logs, log)
}

func orgEvents(t *testing.T, s *Service, typ string) []state.Event {
	t.Helper()
	var out []state.Event
	s.view(func(tx *state.Tx) error {
		evs, _, err := tx.OrgEventsAfter("org_1", "", state.EventFilter{Types: []string{typ}}, 1000)
		out = evs
		return err
	})
	return out
}

// TestProgressLogsAndRefusals: progress of a job the edge holds becomes
// ephemeral events (a few a second at most, none for another edge's job),
// its log is stored, and a refused publish of a known stream is recorded
// once per address and stream however often the bot retries.
func TestProgressLogsAndRefusals(t *testing.T) {
	n, st, key := oneNode(t)
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	out := &sink{}
	s := New(Config{Node: n, Now: clock, Progress: out})
	ctx := testutil.Context(t, 20*time.Second)
	j := state.Job{ID: "job_1", OrgID: "org_1", Type: "vod", MaxAttempts: 1, CreatedAt: now}
	if _, err := n.Apply(ctx, fsm.CmdCreateJob, fsm.CreateJob{Job: j}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Apply(ctx, fsm.CmdLeaseJobs, fsm.LeaseJobs{EdgeID: "edge1", Types: []string{"vod"}, Max: 1, Now: now, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	edge1 := protocol.Peer{Hello: protocol.Hello{NodeID: "edge1"}}
	edge2 := protocol.Peer{Hello: protocol.Hello{NodeID: "edge2"}}
	report := protocol.JobProgressReport{Jobs: []protocol.JobProgressUpdate{{ID: "job_1", Percent: 40, Frame: 120, FPS: 30, Speed: 2,
		BitrateKbps: 900, Log: []string{"frame=120"}}}}
	s.jobProgress(edge1, report)
	s.jobProgress(edge1, report) // within the gap: dropped
	s.jobProgress(edge2, report) // not its job
	now = now.Add(time.Second)
	s.jobProgress(edge1, report)
	if len(out.evs) != 2 || out.evs[0].Type != state.EventJobProgress || out.evs[0].ID != "" || out.evs[0].OrgID != "org_1" ||
		out.logs[0][0] != "frame=120" {
		t.Fatalf("progress events: %+v", out.evs)
	}
	for _, want := range []string{`"percent":40`, `"frame":120`, `"bitrate_kbps":900`, `"speed":2`} {
		if !strings.Contains(string(out.evs[0].Data), want) {
			t.Fatalf("progress data %s lacks %s", out.evs[0].Data, want)
		}
	}

	if _, err := s.jobLog(ctx, edge2, protocol.JobLog{ID: "job_1", Lines: []string{"x"}}); err == nil {
		t.Fatal("another edge stored the job's log")
	}
	if _, err := s.jobLog(ctx, edge1, protocol.JobLog{ID: "job_1", Lines: []string{"one", "two"}}); err != nil {
		t.Fatal(err)
	}
	s.view(func(tx *state.Tx) error {
		l, ok, err := tx.JobLogOf("job_1")
		if err != nil || !ok || len(l.Lines) != 2 || l.Lines[1] != "two" {
			t.Fatalf("stored log %+v %v %v", l, ok, err)
		}
		return nil
	})

	if _, err := n.Apply(ctx, fsm.CmdUpdateStream, fsm.UpdateStream{ID: st.ID, Disabled: ptr(true), At: now}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		authorize(t, s, "edge1", protocol.AuthorizePublishRequest{StreamKey: key, Protocol: "rtmp", RemoteAddr: "192.0.2.7:5000"})
	}
	authorize(t, s, "edge1", protocol.AuthorizePublishRequest{StreamKey: "nobody's key", Protocol: "rtmp", RemoteAddr: "192.0.2.7:5001"})
	refused := orgEvents(t, s, state.EventPublishRefused)
	if len(refused) != 1 || refused[0].StreamID != st.ID || !strings.Contains(string(refused[0].Data), "disabled") {
		t.Fatalf("refusals recorded: %+v", refused)
	}
}

func ptr[T any](v T) *T { return &v }
