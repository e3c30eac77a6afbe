package api

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/analytics"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/testutil"
)

func TestAnalyticsAPI(t *testing.T) {
	e := newEnv(t, nodeOpts{})
	ctx := testutil.Context(t, 30*time.Second)
	sid := str(e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "watched"}).json(t), "id")
	now := time.Now().UTC()
	m0 := protocol.MinuteOf(now.Add(-10 * time.Minute))
	row := func(minute int64, country, city string, views, watchMS, concurrent int64, startups ...float64) protocol.Rollup {
		r := protocol.Rollup{Minute: minute, OrgID: e.orgA, StreamID: sid, Country: country, City: city, Device: "desktop"}
		r.Views, r.WatchMS, r.Concurrent, r.Segments, r.SegmentBytes = views, watchMS, concurrent, 10, 1000
		for _, s := range startups {
			r.Startup.Add(s)
		}
		for i := range views {
			r.Viewers.Add(uint64(minute)*1000 + uint64(i) + uint64(len(city))*100)
		}
		return r
	}
	svc := analytics.New(analytics.Config{Node: e.n.node})
	reply, err := svc.Store(ctx, "edge-lon", protocol.AnalyticsRollups{BatchID: "b1", Rollups: []protocol.Rollup{
		row(m0, "GB", "London", 3, 90_000, 3, 500, 600, 700),
		row(m0+60, "GB", "London", 0, 60_000, 2),
		row(m0, "US", "Seattle", 2, 20_000, 2, 1500, 1600),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(reply.Salts) != 2 || len(reply.Salts[0].Salt) != 32 {
		t.Fatalf("salts: %+v", reply.Salts)
	}
	again, err := svc.Salts(ctx)
	if err != nil || string(again[0].Salt) != string(reply.Salts[0].Salt) {
		t.Fatalf("the day's salt changed: %v", err)
	}
	if _, err := svc.Store(ctx, "edge-sea", protocol.AnalyticsRollups{BatchID: "b2", Rollups: []protocol.Rollup{
		row(m0, "GB", "London", 1, 5_000, 1, 800),
	}}); err != nil {
		t.Fatal(err)
	}

	c := e.admin.typed()
	byCountry, err := c.Analytics(ctx, client.AnalyticsQuery{StreamID: sid, GroupBy: "country"})
	if err != nil {
		t.Fatal(err)
	}
	tot := byCountry.Totals
	if tot.Views != 6 || tot.WatchSeconds != 175 || tot.Startups != 6 || tot.Segments != 40 || tot.PeakConcurrent != 6 {
		t.Errorf("totals: %+v", tot)
	}
	if len(byCountry.Buckets) != 2 || byCountry.Buckets[0].Country != "GB" || byCountry.Buckets[0].Views != 4 ||
		byCountry.Buckets[0].PeakConcurrent != 4 || byCountry.Buckets[1].Country != "US" {
		t.Errorf("by country: %+v", byCountry.Buckets)
	}
	byMinute, err := c.Analytics(ctx, client.AnalyticsQuery{StreamID: sid, GroupBy: "minute"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byMinute.Buckets) != 2 || byMinute.Buckets[0].Time.Unix() != m0 || byMinute.Buckets[1].WatchSeconds != 60 {
		t.Errorf("by minute: %+v", byMinute.Buckets)
	}
	byEdge, _ := c.Analytics(ctx, client.AnalyticsQuery{StreamID: sid, GroupBy: "edge"})
	if len(byEdge.Buckets) != 2 || byEdge.Buckets[0].Edge != "edge-lon" {
		t.Errorf("by edge: %+v", byEdge.Buckets)
	}

	// Compaction folds the minutes into their hour: the totals stay.
	later := analytics.New(analytics.Config{Node: e.n.node, Now: func() time.Time { return now.Add(5 * 24 * time.Hour) }})
	done, err := later.Compact(ctx)
	if err != nil || done.Folded != 4 {
		t.Fatalf("compaction: %+v %v", done, err)
	}
	byHour, err := c.Analytics(ctx, client.AnalyticsQuery{StreamID: sid, GroupBy: "hour"})
	if err != nil {
		t.Fatal(err)
	}
	if h := byHour.Totals; h.Views != 6 || h.WatchSeconds != 175 || h.Startups != 6 || h.UniqueViewers != tot.UniqueViewers {
		t.Errorf("after compaction: %+v, before %+v", h, tot)
	}

	for _, q := range []string{"/v1/analytics", "/v1/analytics?stream_id=" + sid + "&group_by=week",
		"/v1/analytics?stream_id=" + sid + "&from=yesterday", "/v1/analytics?stream_id=" + sid + "&asset_id=x"} {
		e.admin.must(http.StatusBadRequest, "GET", q, nil)
	}
	e.admin.must(http.StatusNotFound, "GET", "/v1/analytics?stream_id=str_nothere", nil)
	_, err = c.Analytics(ctx, client.AnalyticsQuery{AssetID: "ast_nothere"})
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("unknown asset: %v", err)
	}
}
