package edge_test

import (
	"slices"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestHeartbeatListsSessionUntilItsEndIsReported is the edge's half of the
// heartbeat/unpublish race: while the session_ended report of a finished
// publish is in flight, every heartbeat still lists the session (so the
// control plane cannot take it for one lost to a restart), and once the
// report is acknowledged, none does.
func TestHeartbeatListsSessionUntilItsEndIsReported(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	const key = "sk_test_heartbeat"
	cp := startFakeControl(t, key, protocol.PlaybackPublic)
	hold := make(chan struct{})
	cp.mu.Lock()
	cp.leaseMS, cp.holdEnd = 400, hold // a heartbeat every 100 ms
	cp.mu.Unlock()
	n, err := edge.New(edge.Config{NodeID: "edge-hb", DataDir: t.TempDir(), Control: []string{cp.addr()}, JoinToken: cp.join,
		RTMPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runEdge(t, n)
	pub := mediatest.Publish(t, n.RTMPURL()+"/"+key, mediatest.Live{Spec: mediatest.Spec{Width: 160, Height: 90, Seconds: 1, GOP: 30}})
	if err := pub.Wait(); err != nil {
		t.Fatalf("publish: %v", err)
	}
	heartbeats := func() [][]string {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		return slices.Clone(cp.heartbeats)
	}
	testutil.Eventually(t, 20*time.Second, "the session's end report to arrive", func() bool {
		return cp.count(protocol.TypeSessionEnded) > 0
	})
	from := len(heartbeats())
	testutil.Eventually(t, 10*time.Second, "three heartbeats while the report is held", func() bool { return len(heartbeats()) >= from+3 })
	for i, hb := range heartbeats()[from:] {
		if !slices.Contains(hb, "ses_1") {
			t.Fatalf("heartbeat %d while the end report was in flight lists %v, not the ended session ses_1", i, hb)
		}
	}
	close(hold)
	testutil.Eventually(t, 10*time.Second, "the end report acknowledged", func() bool {
		_, ok := cp.sessionEnded("ses_1")
		return ok
	})
	acked := len(heartbeats())
	testutil.Eventually(t, 10*time.Second, "two heartbeats after the acknowledgement", func() bool { return len(heartbeats()) >= acked+2 })
	if last := heartbeats()[len(heartbeats())-1]; slices.Contains(last, "ses_1") {
		t.Fatalf("a heartbeat after the end was acknowledged still lists ses_1: %v", last)
	}
}
