package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestJobProgressReachesTheStream: a node wires its edge endpoint, hub and
// API together: an edge's progress report of a job it leased reaches an
// SSE client as job.progress (no id) after the durable job.started, and
// /metrics counts the client.
func TestJobProgressReachesTheStream(t *testing.T) {
	srv, tok := startNode(t, 10*time.Second)
	c := apiClient(t, srv, tok)
	me, err := c.Auth().Me(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx := testutil.Context(t, 30*time.Second)
	got := make(chan client.Event, 16)
	follow, stop := context.WithCancel(ctx)
	defer stop()
	go c.Events().Follow(follow, client.EventFilter{Types: []string{"job.started", "job.progress"}}, "", func(ev client.Event) error {
		got <- ev
		return nil
	})
	testutil.Eventually(t, 10*time.Second, "the subscription", func() bool { return srv.events.Clients() == 1 })
	resp, err := http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\nlivestreams_sse_clients 1\n") {
		t.Fatalf("/metrics lacks livestreams_sse_clients 1")
	}

	j, err := srv.jobs.Enqueue(ctx, state.Job{ID: ids.New("job"), OrgID: me.OrgID, Type: state.JobVOD, Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	join, err := srv.CreateJoinToken(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	edge, err := dialEdge(t, srv, "edge1", join)
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close()
	var leased protocol.LeaseJobsReply
	if err := edge.Call(ctx, protocol.TypeLeaseJobs, protocol.LeaseJobsRequest{Types: []string{protocol.JobVOD}, Max: 1}, &leased); err != nil || len(leased.Jobs) != 1 {
		t.Fatalf("lease: %+v %v", leased, err)
	}
	report := protocol.JobProgressReport{Jobs: []protocol.JobProgressUpdate{{ID: j.ID, Percent: 42, Frame: 7, FPS: 25, Speed: 1.5}}}
	if err := edge.Call(ctx, protocol.TypeJobProgress, report, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"job.started", "job.progress"} {
		select {
		case ev := <-got:
			if ev.Type != want || ev.JobID != j.ID || (want == "job.progress") != (ev.ID == "") {
				t.Fatalf("got %+v, want %s of %s", ev, want, j.ID)
			}
			if want == "job.progress" && !strings.Contains(string(ev.Data), `"percent":42`) {
				t.Fatalf("progress data %s", ev.Data)
			}
		case <-ctx.Done():
			t.Fatalf("no %s", want)
		}
	}
	if err := edge.Call(ctx, protocol.TypeJobLog, protocol.JobLog{ID: j.ID, Lines: []string{"frame=7 fps=25"}}, nil); err != nil {
		t.Fatal(err)
	}
	l, err := c.JobLog(ctx, j.ID)
	if err != nil || len(l.Lines) != 1 || l.Lines[0] != "frame=7 fps=25" {
		t.Fatalf("job log %+v %v", l, err)
	}
}
