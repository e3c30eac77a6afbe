package fsm

import (
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
)

// Analytics command types.
const (
	CmdAnalyticsRollups  = "analytics_rollups"
	CmdEnsureViewerSalts = "ensure_viewer_salts"
	CmdCompactAnalytics  = "compact_analytics"
)

// AnalyticsRollups stores one edge's batch of rollups, adding each to the
// minute row of its key. A batch id seen before changes nothing, so a
// shipment retried after an unknown outcome counts once.
type AnalyticsRollups struct {
	BatchID string
	EdgeID  string
	At      int64 // unix seconds the batch arrived, for forgetting its id
	Rollups []protocol.Rollup
}

// EnsureViewerSalts stores the proposed salt of each day that has none
// and answers the salts the days have ([]protocol.ViewerSalt, in order).
type EnsureViewerSalts struct {
	Salts []protocol.ViewerSalt
}

// CompactAnalytics folds minute rows older than MinutesBefore into hour
// rows, deletes hour rows older than HoursBefore, batch ids recorded
// before BatchesBefore and salts of days before SaltsBefore; at most Max
// rows of each kind (the leader repeats until a command finds less).
type CompactAnalytics struct {
	MinutesBefore int64
	HoursBefore   int64
	BatchesBefore int64
	SaltsBefore   string
	Max           int
}

// Compacted is what a CompactAnalytics command did.
type Compacted struct {
	Folded  int `json:"folded"`
	Deleted int `json:"deleted"`
}

func (f *FSM) registerAnalytics() {
	handle(f, CmdAnalyticsRollups, func(tx *state.Tx, c AnalyticsRollups) (any, error) {
		if c.BatchID == "" || c.EdgeID == "" {
			return nil, state.Invalid("analytics batch needs a batch id and an edge id")
		}
		if len(c.Rollups) > protocol.MaxRollupsPerBatch {
			return nil, state.Invalid("analytics batch has %d rollups, at most %d", len(c.Rollups), protocol.MaxRollupsPerBatch)
		}
		seen, err := tx.AnalyticsBatchSeen(c.BatchID, c.At)
		if err != nil || seen {
			return 0, err
		}
		stored := 0
		for _, r := range c.Rollups {
			if r.OrgID == "" || (r.StreamID == "") == (r.AssetID == "") || r.Minute%60 != 0 || r.Minute <= 0 {
				continue // not a rollup this version can key: skip it, keep the rest
			}
			row := state.AnalyticsRow{Time: r.Minute, OrgID: r.OrgID, StreamID: r.StreamID, AssetID: r.AssetID,
				EdgeID: c.EdgeID, Country: r.Country, City: r.City, Device: r.Device}
			if old, ok, err := tx.AnalyticsRow(state.ResMinute, row); err != nil {
				return nil, err
			} else if ok {
				row = old
			}
			row.Counters.Merge(r.Counters)
			if err := tx.PutAnalyticsRow(state.ResMinute, row); err != nil {
				return nil, err
			}
			stored++
		}
		return stored, nil
	})
	handle(f, CmdEnsureViewerSalts, func(tx *state.Tx, c EnsureViewerSalts) (any, error) {
		out := make([]protocol.ViewerSalt, 0, len(c.Salts))
		for _, s := range c.Salts {
			salt, ok, err := tx.ViewerSalt(s.Day)
			if err != nil {
				return nil, err
			}
			if !ok {
				if len(s.Salt) < 16 {
					return nil, state.Invalid("viewer salt of %s is too short", s.Day)
				}
				if err := tx.PutViewerSalt(s.Day, s.Salt); err != nil {
					return nil, err
				}
				salt = s.Salt
			}
			out = append(out, protocol.ViewerSalt{Day: s.Day, Salt: salt})
		}
		return out, nil
	})
	handle(f, CmdCompactAnalytics, func(tx *state.Tx, c CompactAnalytics) (any, error) {
		if c.Max <= 0 {
			return nil, state.Invalid("compaction needs a positive max")
		}
		var done Compacted
		var minutes, hours []state.AnalyticsRow
		if err := tx.AnalyticsRowsBefore(state.ResMinute, c.MinutesBefore, func(r state.AnalyticsRow) bool {
			minutes = append(minutes, r)
			return len(minutes) < c.Max
		}); err != nil {
			return nil, err
		}
		for _, m := range minutes {
			h := m
			h.Time, h.Counters, h.Peak = m.Time-m.Time%3600, protocol.Counters{}, 0
			if old, ok, err := tx.AnalyticsRow(state.ResHour, h); err != nil {
				return nil, err
			} else if ok {
				h = old
			}
			concurrent := m.Concurrent
			m.Concurrent = 0
			h.Counters.Merge(m.Counters)
			h.Peak = max(h.Peak, concurrent)
			if err := tx.PutAnalyticsRow(state.ResHour, h); err != nil {
				return nil, err
			}
			if err := tx.DeleteAnalyticsRow(state.ResMinute, m); err != nil {
				return nil, err
			}
			done.Folded++
		}
		if err := tx.AnalyticsRowsBefore(state.ResHour, c.HoursBefore, func(r state.AnalyticsRow) bool {
			hours = append(hours, r)
			return len(hours) < c.Max
		}); err != nil {
			return nil, err
		}
		for _, h := range hours {
			if err := tx.DeleteAnalyticsRow(state.ResHour, h); err != nil {
				return nil, err
			}
			done.Deleted++
		}
		if _, err := tx.ForgetAnalyticsBatches(c.BatchesBefore); err != nil {
			return nil, err
		}
		if c.SaltsBefore != "" {
			if err := tx.ForgetViewerSalts(c.SaltsBefore); err != nil {
				return nil, err
			}
		}
		return done, nil
	})
}
