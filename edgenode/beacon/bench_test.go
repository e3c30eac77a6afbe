package beacon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/geoip"
	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
)

// BenchmarkBeaconIngest measures what one edge's beacon endpoint takes in:
// batches of 5 events from 1000 viewers in 4 cities, through the handler
// (limit, body read, parse, GeoIP, hash, aggregate), on every core. It
// reports beacons (events) a second, and rollup_take_ms: how long taking a
// minute of those viewers as rollups holds the aggregator, the edge's part
// of the rollup lag (the rest is the ship interval, a minute, and one Raft
// write).
func BenchmarkBeaconIngest(b *testing.B) {
	db := geoiptest.TempDB(b, geoiptest.Sample())
	res, err := geoip.Open(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Close()
	cities := []netip.Addr{geoiptest.LondonIP, geoiptest.LinkopingIP, geoiptest.SeattleIP, geoiptest.SydneyIP}
	const viewers, batchesPerViewer = 1000, 20
	bodies := make([][]byte, viewers)
	for v := range viewers {
		evs := []Event{{Type: EventHeartbeat, MS: 10000}, {Type: EventBitrate, Bitrate: 2e6}, {Type: EventRebuffer, MS: 300},
			{Type: EventFirstFrame, MS: 900}, {Type: EventHeartbeat, MS: 5000}}
		for i := range evs {
			evs[i].ViewID, evs[i].PlaybackID = fmt.Sprintf("view%d", v), fmt.Sprintf("pid%d", v%10)
		}
		bodies[v], _ = json.Marshal(evs)
	}
	proxy := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	var events, took float64
	for b.Loop() {
		agg := New(Config{GeoIP: res})
		for p := range 10 {
			agg.Served(fmt.Sprintf("pid%d", p), "index.m3u8", 1, Viewer{})
		}
		h := NewHandler(agg, proxy, NewLimiter(1e9, 1e9, maxLimited))
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		start := time.Now()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for v := w; v < viewers; v += workers {
					xff := cities[v%len(cities)].String()
					for range batchesPerViewer {
						r := httptest.NewRequest(http.MethodPost, "/beacon", bytes.NewReader(bodies[v]))
						r.RemoteAddr = "127.0.0.1:4000"
						r.Header.Set("X-Forwarded-For", xff)
						r.Header.Set("User-Agent", fmt.Sprintf("agent %d", v))
						h.ServeHTTP(httptest.NewRecorder(), r)
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		events += float64(viewers*batchesPerViewer*5) / el.Seconds()
		t0 := time.Now()
		rs := agg.Take(0, func(pid string) (Owner, bool) { return Owner{OrgID: "org", StreamID: "str_" + pid}, true })
		took += float64(time.Since(t0).Microseconds()) / 1000
		if len(rs) == 0 {
			b.Fatal("no rollups")
		}
	}
	b.ReportMetric(events/float64(b.N), "beacons/s")
	b.ReportMetric(took/float64(b.N), "rollup_take_ms")
}
