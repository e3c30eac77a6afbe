package analytics

import (
	"cmp"
	"slices"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
)

// Groupings of a query.
const (
	GroupMinute  = "minute"
	GroupHour    = "hour"
	GroupCountry = "country"
	GroupCity    = "city"
	GroupEdge    = "edge"
)

// Bounds of a query.
const (
	MaxRange       = 400 * 24 * time.Hour
	MaxMinuteRange = 7 * 24 * time.Hour
)

// Query is what to add up: one org's stream or asset in [From, To).
type Query struct {
	OrgID, StreamID, AssetID string
	From, To                 time.Time
	GroupBy                  string
}

// InvalidQueryError says why a query is refused.
type InvalidQueryError struct{ Reason string }

func (e *InvalidQueryError) Error() string { return "invalid analytics query: " + e.Reason }

// Validate checks a query.
func (q Query) Validate() error {
	bad := func(msg string) error { return &InvalidQueryError{Reason: msg} }
	switch {
	case (q.StreamID == "") == (q.AssetID == ""):
		return bad("exactly one of stream_id and asset_id is required")
	case !q.From.Before(q.To):
		return bad("from must be before to")
	case q.To.Sub(q.From) > MaxRange:
		return bad("the range is at most 400 days")
	}
	switch q.GroupBy {
	case GroupMinute:
		if q.To.Sub(q.From) > MaxMinuteRange {
			return bad("group_by=minute covers at most 7 days")
		}
	case GroupHour, GroupCountry, GroupCity, GroupEdge:
	default:
		return bad("group_by must be minute, hour, country, city or edge")
	}
	return nil
}

type group struct {
	key  string
	time int64
	b    client.AnalyticsBucket
	c    protocol.Counters
	// playing sums, per minute or hour, the views playing, for the peak.
	playing map[int64]int64
}

func (g *group) add(r state.AnalyticsRow, hourly bool) {
	concurrent := r.Concurrent
	if hourly {
		concurrent = r.Peak
	}
	c := r.Counters
	c.Concurrent = 0
	g.c.Merge(c)
	if g.playing == nil {
		g.playing = map[int64]int64{}
	}
	g.playing[r.Time] += concurrent
}

func (g *group) figures() client.AnalyticsFigures {
	c := g.c
	f := client.AnalyticsFigures{Views: c.Views, UniqueViewers: c.Viewers.Count(), WatchSeconds: float64(c.WatchMS) / 1000,
		StartupP50MS: c.Startup.Quantile(0.5), StartupP95MS: c.Startup.Quantile(0.95), Startups: c.Startup.Count(),
		Rebuffers: c.Rebuffers, RebufferSeconds: float64(c.RebufferMS) / 1000, BitrateSwitches: c.BitrateSwitches,
		Errors: c.Errors, FatalErrors: c.FatalErrors, Segments: c.Segments, SegmentBytes: c.SegmentBytes}
	if c.WatchMS+c.RebufferMS > 0 {
		f.RebufferRatio = float64(c.RebufferMS) / float64(c.WatchMS+c.RebufferMS)
	}
	if c.Views > 0 {
		f.ErrorRate = float64(c.FatalErrors) / float64(c.Views)
	}
	for _, n := range g.playing {
		f.PeakConcurrent = max(f.PeakConcurrent, n)
	}
	return f
}

// Run answers q from the state in tx.
func Run(tx *state.Tx, q Query) (client.Analytics, error) {
	if err := q.Validate(); err != nil {
		return client.Analytics{}, err
	}
	from, to := q.From.Unix(), q.To.Unix()
	total := &group{}
	groups := map[string]*group{}
	var order []*group
	visit := func(hourly bool) func(state.AnalyticsRow) bool {
		return func(r state.AnalyticsRow) bool {
			if r.Time < from-from%3600 || r.Time >= to {
				return true
			}
			total.add(r, hourly)
			var key string
			var bucket client.AnalyticsBucket
			var t int64
			switch q.GroupBy {
			case GroupMinute:
				t = r.Time
			case GroupHour:
				t = r.Time - r.Time%3600
			case GroupCountry:
				key, bucket.Country = r.Country, r.Country
			case GroupCity:
				key, bucket.Country, bucket.City = r.Country+"\x00"+r.City, r.Country, r.City
			case GroupEdge:
				key, bucket.Edge = r.EdgeID, r.EdgeID
			}
			if q.GroupBy == GroupMinute || q.GroupBy == GroupHour {
				key = time.Unix(t, 0).UTC().Format(time.RFC3339)
				tm := time.Unix(t, 0).UTC()
				bucket.Time = &tm
			}
			g := groups[key]
			if g == nil {
				g = &group{key: key, time: t, b: bucket}
				groups[key] = g
				order = append(order, g)
			}
			g.add(r, hourly)
			return true
		}
	}
	// Minute rows inside the range; hour rows (folded minutes) of the
	// hours the range touches.
	if err := tx.AnalyticsRows(state.ResMinute, q.OrgID, q.StreamID, q.AssetID, from, to, visit(false)); err != nil {
		return client.Analytics{}, err
	}
	if err := tx.AnalyticsRows(state.ResHour, q.OrgID, q.StreamID, q.AssetID, from-from%3600, to, visit(true)); err != nil {
		return client.Analytics{}, err
	}
	out := client.Analytics{StreamID: q.StreamID, AssetID: q.AssetID, From: q.From.UTC(), To: q.To.UTC(), GroupBy: q.GroupBy,
		Totals: total.figures(), Buckets: make([]client.AnalyticsBucket, 0, len(order))}
	byTime := q.GroupBy == GroupMinute || q.GroupBy == GroupHour
	slices.SortStableFunc(order, func(a, b *group) int {
		if byTime {
			return cmp.Compare(a.time, b.time)
		}
		if c := cmp.Compare(b.c.Views, a.c.Views); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	for _, g := range order {
		b := g.b
		b.AnalyticsFigures = g.figures()
		out.Buckets = append(out.Buckets, b)
	}
	return out, nil
}
