package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestLivePathUnpublishedEveryTime is the regression test of the
// heartbeat/unpublish race: the edge stopped listing a session in its
// heartbeats before the control plane had its end report, so a heartbeat
// in between closed a normal unpublish as edge_restarted. A short edge
// lease makes heartbeats frequent (every 200 ms) and sessions old enough
// (1.6 s) to be judged lost; 50 publishes, five streams at a time, then
// end, each recorded as unpublished.
func TestLivePathUnpublishedEveryTime(t *testing.T) {
	t.Parallel()
	const streams, rounds = 5, 10
	c := startDevWith(t, func(cfg *devConfig) { cfg.EdgeLeaseTTL = 800 * time.Millisecond })
	start := time.Now()
	var mu sync.Mutex
	reasons := map[string]int{}
	t.Run("streams", func(t *testing.T) {
		for i := range streams {
			s := newStream(t, c, client.StreamCreate{Name: fmt.Sprintf("flap-%d", i)})
			t.Run(fmt.Sprintf("stream-%d", i), func(t *testing.T) {
				t.Parallel()
				for r := range rounds {
					pub := publish(t, c.RTMPURL(s.Key), 160, 90, 2, false)
					if err := pub.Wait(); err != nil {
						t.Fatalf("round %d: publish: %v", r, err)
					}
					var sess client.Session
					testutil.EventuallyEvery(t, 20*time.Second, devPoll, fmt.Sprintf("round %d: session %d ended", r, r+1), func() bool {
						list, err := c.API.Streams().Sessions(context.Background(), s.ID)
						if err != nil || len(list) != r+1 {
							return false
						}
						sess = list[0]
						return sess.EndReason != ""
					})
					mu.Lock()
					reasons[sess.EndReason]++
					mu.Unlock()
					if sess.EndReason != "unpublished" {
						t.Errorf("round %d: session %s ended %q, want unpublished", r, sess.ID, sess.EndReason)
					}
				}
			})
		}
	})
	t.Logf("%d publishes in %s: end reasons %v", streams*rounds, time.Since(start).Round(time.Second), reasons)
}
