package webhooks_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/webhooks"
	"github.com/livestreams/livestreams/shared/testutil"
)

// Webhook deliveries per second to a receiver on loopback, beside the
// anchor: plain net/http POSTs of the same body to the same receiver from
// the same process, as many at once as the dispatcher sends (its per-
// endpoint bound times the endpoints). A delivery costs more than a POST:
// its fan-out and every attempt are Raft writes (batched), and it is signed.
const (
	benchEvents    = 500
	benchEndpoints = 4
	benchPerHook   = 8
)

func BenchmarkWebhookDeliveries(b *testing.B) {
	var hits atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	b.Cleanup(rcv.Close)
	total := benchEvents * benchEndpoints

	ours := func() float64 {
		m := newMachine(b)
		for i := range benchEndpoints {
			m.webhook(fmt.Sprintf("%s/hook%d", rcv.URL, i), state.EventAssetCreated)
		}
		for range benchEvents {
			m.asset()
		}
		d := webhooks.New(webhooks.Config{Node: m.node, AllowPrivate: true, Concurrency: 64, PerEndpoint: benchPerHook})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		start := time.Now()
		go func() { defer close(done); d.Run(ctx) }()
		testutil.EventuallyEvery(b, 5*time.Minute, time.Millisecond, "every delivery to succeed", func() bool {
			return d.Stats().Succeeded >= uint64(total)
		})
		elapsed := time.Since(start)
		cancel()
		<-done
		return float64(total) / elapsed.Seconds()
	}

	plain := func() float64 {
		body, _ := webhooks.Body(state.Event{ID: "0000000000000001-0000", OrgID: "org_a", Type: state.EventAssetCreated,
			AssetID: "ast_benchbenchbench", Data: []byte(`{"type":"upload"}`), At: time.Now()})
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: benchEndpoints * benchPerHook}}
		defer c.CloseIdleConnections()
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Int64
		start := time.Now()
		for range benchEndpoints * benchPerHook {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(total) {
					resp, err := c.Post(rcv.URL+"/plain", "application/json", bytes.NewReader(body))
					if err != nil {
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatalf("%d plain POSTs failed", failed.Load())
		}
		return float64(total) / time.Since(start).Seconds()
	}

	for b.Loop() {
		p := plain()
		o := ours()
		b.ReportMetric(o, "deliveries/s")
		b.ReportMetric(p, "plain-posts/s")
		b.ReportMetric(o/p, "ratio")
		b.Logf("%d deliveries (%d events × %d endpoints, %d in flight): %.0f deliveries/s; plain net/http POSTs %.0f/s (%.3f×)",
			total, benchEvents, benchEndpoints, benchEndpoints*benchPerHook, o, p, o/p)
	}
}
