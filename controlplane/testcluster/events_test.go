package testcluster_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/testcluster"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestProgressRelayedToEveryNode: progress that reached one control-plane
// node (as an edge's report does) is relayed to the others, whose SSE
// clients see it; it never enters the Raft log.
func TestProgressRelayedToEveryNode(t *testing.T) {
	t.Parallel()
	c := testcluster.Start(t, testcluster.Options{Nodes: 3})
	c.WaitVoters(3, 20*time.Second)
	leader := c.Leader(10 * time.Second)
	ctx := testutil.Context(t, 60*time.Second)
	su, err := leader.Client("").Auth().Signup(ctx, client.Signup{Email: "ev@example.com", Password: "events-password-1", OrgName: "ev"})
	if err != nil {
		t.Fatal(err)
	}
	var others []*testcluster.Member
	for _, m := range c.Members {
		if m != leader {
			others = append(others, m)
		}
	}
	got := make(chan client.Event, 4)
	for _, m := range others {
		cl := m.Client(su.Token)
		testutil.Eventually(t, 10*time.Second, "the user's org on "+m.ID, func() bool {
			me, err := cl.Auth().Me(ctx)
			return err == nil && me.OrgID == su.Org.ID
		})
		go func() {
			err := cl.Events().Follow(ctx, client.EventFilter{JobID: "job_relayed"}, "", func(ev client.Event) error {
				got <- ev
				return nil
			})
			if ctx.Err() == nil {
				t.Errorf("follow on %s: %v", m.ID, err)
			}
		}()
	}
	before := leader.Server().Node().AppliedIndex()
	body, _ := json.Marshal(map[string]any{"event": state.Event{OrgID: su.Org.ID, Type: state.EventJobProgress, JobID: "job_relayed",
		At: time.Now().UTC(), Data: json.RawMessage(`{"percent":12}`)}})
	// Sent until both followers' clients are subscribed and have it.
	seen := 0
	deadline := time.After(30 * time.Second)
	for seen < len(others) {
		bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := leader.Server().Node().Broadcast(bctx, body, time.Second); err != nil {
			t.Logf("broadcast: %v", err)
		}
		cancel()
		select {
		case ev := <-got:
			if ev.ID != "" || ev.Type != state.EventJobProgress || string(ev.Data) != `{"percent":12}` {
				t.Fatalf("relayed %+v", ev)
			}
			seen++
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%d of %d followers' clients got the progress", seen, len(others))
		}
	}
	if after := leader.Server().Node().AppliedIndex(); after != before {
		t.Fatalf("the relay wrote to Raft: applied index %d -> %d", before, after)
	}
}
