package edgeapi

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestRestreamCredentials: a publish queues the enabled target's job
// pinned to the ingest edge; only that edge, once it holds the job, gets
// the URL and key, and its status reports show on the target. No log line
// holds the key.
func TestRestreamCredentials(t *testing.T) {
	n, st, streamKey := oneNode(t)
	ctx := testutil.Context(t, 20*time.Second)
	js, err := jobs.New(jobs.Config{Node: n})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	s := New(Config{Node: n, Jobs: js, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	const key = "target-key-0123456789"
	target := state.RestreamTarget{ID: "rst_1", OrgID: "org_1", StreamID: st.ID, Name: "yt", Preset: state.PresetYouTube,
		URL: state.PresetURL(state.PresetYouTube), KeySealed: key, KeyLast4: state.Last4(key), Enabled: true, CreatedAt: time.Now().UTC()}
	if _, err := n.Apply(ctx, fsm.CmdCreateRestreamTarget, fsm.CreateRestreamTarget{Target: target}); err != nil {
		t.Fatal(err)
	}
	if _, err := authorize(t, s, "edge-a", protocol.AuthorizePublishRequest{StreamKey: streamKey, Protocol: protocol.IngestRTMP}); err != nil {
		t.Fatal(err)
	}
	lease := func(edge string) []protocol.Job {
		out, err := s.leaseJobs(ctx, protocol.Peer{Hello: protocol.Hello{NodeID: edge}}, protocol.LeaseJobsRequest{Types: []string{protocol.JobRestream}, Max: 4})
		if err != nil {
			t.Fatal(err)
		}
		return out.(protocol.LeaseJobsReply).Jobs
	}
	creds := func(edge, jobID string) (protocol.RestreamCredentials, error) {
		out, err := s.restreamCredentials(protocol.Peer{Hello: protocol.Hello{NodeID: edge}}, protocol.RestreamCredentialsRequest{JobID: jobID})
		c, _ := out.(protocol.RestreamCredentials)
		return c, err
	}
	if got := lease("edge-b"); len(got) != 0 {
		t.Fatalf("edge-b leased %+v; the job is pinned to edge-a", got)
	}
	got := lease("edge-a")
	if len(got) != 1 || got[0].Type != protocol.JobRestream || strings.Contains(string(got[0].Payload), key) {
		t.Fatalf("edge-a leased %+v", got)
	}
	if _, err := creds("edge-b", got[0].ID); err == nil {
		t.Fatal("another edge got the credentials")
	}
	c, err := creds("edge-a", got[0].ID)
	if err != nil || c.Key != key || c.URL != target.URL {
		t.Fatalf("credentials %+v, %v", c.URL, err)
	}
	if _, err := s.restreamStatus(ctx, protocol.Peer{Hello: protocol.Hello{NodeID: "edge-a"}},
		protocol.RestreamStatus{JobID: got[0].ID, Status: protocol.RestreamLive}); err != nil {
		t.Fatal(err)
	}
	n.Store().View(func(tx *state.Tx) error { target, err = tx.RestreamTarget(st.ID, "rst_1"); return err })
	if target.Status != state.RestreamLive || target.JobID != got[0].ID {
		t.Fatalf("target after the live report: %+v", target)
	}
	if strings.Contains(logs.String(), key) {
		t.Fatalf("a log line holds the key:\n%s", logs.String())
	}
}
