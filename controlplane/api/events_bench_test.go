package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/shared/testutil"
)

// BenchmarkEventFanout measures publish-to-delivery latency of the event
// stream: from just before a command is proposed (its event's time) to the
// moment each SSE client on one control-plane node has parsed the event,
// with 1,000 clients and, as the anchor, with one. p50/p99 over every
// delivery of 200 events (sent one after another, each once committed).
func BenchmarkEventFanout(b *testing.B) {
	for _, clients := range []int{1, 1000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchFanout(b, clients, 200) })
	}
}

func benchFanout(b *testing.B, clients, events int) {
	e := newEnv(b, nodeOpts{cfg: withEvents(b)})
	sid := str(e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "bench"}).json(b), "id")
	token := str(e.admin.must(201, "POST", "/v1/events/token", nil).json(b), "token")
	ctx, cancel := context.WithCancel(testutil.Context(b, 10*time.Minute))
	defer cancel()
	hc := client.NewHTTPClient()
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = clients

	var mu sync.Mutex
	var lat []time.Duration
	for b.Loop() {
		lat = lat[:0]
		want := events
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(ctx, "GET", e.n.url+"/v1/events?stream_id="+sid+"&token="+token, nil)
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				defer resp.Body.Close()
				mine := make([]time.Duration, 0, want)
				client.ReadSSE(resp.Body, func(m client.SSEMessage) error {
					var ev struct {
						At time.Time `json:"at"`
					}
					if err := json.Unmarshal([]byte(m.Data), &ev); err != nil {
						return err
					}
					mine = append(mine, time.Since(ev.At))
					if len(mine) == want {
						return errEnough
					}
					return nil
				})
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		testutil.Eventually(b, time.Minute, "every client subscribed", func() bool { return e.n.api.cfg.Events.Clients() == clients })
		for i := range events {
			actx, acancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := e.n.node.Apply(actx, fsm.CmdPublishRefused, fsm.PublishRefused{OrgID: e.orgA, StreamID: sid,
				Protocol: "rtmp", Reason: fmt.Sprintf("bench %d", i), At: time.Now().UTC()})
			acancel()
			if err != nil {
				b.Fatal(err)
			}
		}
		wg.Wait()
		if len(lat) != clients*events {
			b.Fatalf("%d deliveries, want %d", len(lat), clients*events)
		}
		testutil.Eventually(b, time.Minute, "the clients gone", func() bool { return e.n.api.cfg.Events.Clients() == 0 })
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)), "deliveries")
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		b.Fatal("deadline")
	}
}
