package fsm_test

import (
	"bytes"
	"testing"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
)

func rollup(minute int64, country string, views, watch, concurrent int64) protocol.Rollup {
	r := protocol.Rollup{Minute: minute, OrgID: "org_1", StreamID: "str_1", Country: country, Device: "desktop"}
	r.Views, r.WatchMS, r.Concurrent = views, watch, concurrent
	r.Startup.Add(900)
	r.Viewers.Add(uint64(minute) + uint64(len(country)))
	return r
}

func rows(t *testing.T, m *machine, res string) []state.AnalyticsRow {
	t.Helper()
	var out []state.AnalyticsRow
	m.store.View(func(tx *state.Tx) error {
		return tx.AnalyticsRows(res, "org_1", "str_1", "", 0, 1<<40, func(r state.AnalyticsRow) bool { out = append(out, r); return true })
	})
	return out
}

func TestAnalyticsRollupsAndCompaction(t *testing.T) {
	m := newMachine(t)
	h := t0.Unix() - t0.Unix()%3600
	var stored int
	m.must(fsm.CmdAnalyticsRollups, fsm.AnalyticsRollups{BatchID: "b1", EdgeID: "e1", At: h, Rollups: []protocol.Rollup{
		rollup(h, "GB", 3, 30000, 3), rollup(h+60, "GB", 1, 60000, 4), rollup(h+60, "US", 2, 1000, 2),
		{Minute: h + 7, OrgID: "org_1", StreamID: "str_1"}, // not minute-aligned: skipped
		{Minute: h, OrgID: "org_1"},                        // neither stream nor asset: skipped
	}}, &stored)
	if stored != 3 {
		t.Fatalf("stored %d rollups, want 3", stored)
	}
	// The same batch again (a retry) counts once; another batch adds.
	m.must(fsm.CmdAnalyticsRollups, fsm.AnalyticsRollups{BatchID: "b1", EdgeID: "e1", At: h, Rollups: []protocol.Rollup{rollup(h, "GB", 3, 30000, 3)}}, &stored)
	if stored != 0 {
		t.Fatalf("a repeated batch stored %d", stored)
	}
	m.must(fsm.CmdAnalyticsRollups, fsm.AnalyticsRollups{BatchID: "b2", EdgeID: "e1", At: h, Rollups: []protocol.Rollup{rollup(h, "GB", 2, 5000, 1)}}, nil)
	mins := rows(t, m, state.ResMinute)
	if len(mins) != 3 || mins[0].Views != 5 || mins[0].WatchMS != 35000 || mins[0].Concurrent != 4 || mins[0].Startup.Count() != 2 {
		t.Fatalf("minute rows: %+v", mins)
	}

	var done fsm.Compacted
	m.must(fsm.CmdCompactAnalytics, fsm.CompactAnalytics{MinutesBefore: h + 3600, HoursBefore: 0, BatchesBefore: h + 1, Max: 2}, &done)
	if done.Folded != 2 {
		t.Fatalf("first compaction: %+v", done)
	}
	m.must(fsm.CmdCompactAnalytics, fsm.CompactAnalytics{MinutesBefore: h + 3600, HoursBefore: 0, Max: 100}, &done)
	if done.Folded != 1 || len(rows(t, m, state.ResMinute)) != 0 {
		t.Fatalf("second compaction: %+v", done)
	}
	hours := rows(t, m, state.ResHour)
	if len(hours) != 2 {
		t.Fatalf("hour rows: %+v", hours)
	}
	gb := hours[0]
	if gb.Country != "GB" {
		gb = hours[1]
	}
	if gb.Views != 6 || gb.WatchMS != 95000 || gb.Peak != 4 || gb.Concurrent != 0 || gb.Viewers.Count() != 2 {
		t.Errorf("GB hour: %+v", gb)
	}
	// b1 was forgotten: the same id is a new batch now.
	m.must(fsm.CmdAnalyticsRollups, fsm.AnalyticsRollups{BatchID: "b1", EdgeID: "e1", At: h + 7200, Rollups: []protocol.Rollup{rollup(h+7200, "GB", 1, 1, 1)}}, &stored)
	if stored != 1 {
		t.Errorf("a forgotten batch id was refused")
	}
	m.must(fsm.CmdCompactAnalytics, fsm.CompactAnalytics{MinutesBefore: 0, HoursBefore: h + 1, Max: 100}, &done)
	if done.Deleted != 2 || len(rows(t, m, state.ResHour)) != 0 || len(rows(t, m, state.ResMinute)) != 1 {
		t.Errorf("retention: %+v", done)
	}
	m.refuse(state.CodeInvalid, fsm.CmdCompactAnalytics, fsm.CompactAnalytics{})

	// Replaying the log elsewhere gives the same state.
	other := newMachine(t)
	for _, e := range m.log {
		other.applyRaw(e)
	}
	var a, b bytes.Buffer
	m.store.View(func(tx *state.Tx) error {
		return tx.AnalyticsRows(state.ResMinute, "org_1", "str_1", "", 0, 1<<40, func(r state.AnalyticsRow) bool { a.WriteString(r.Country); return true })
	})
	other.store.View(func(tx *state.Tx) error {
		return tx.AnalyticsRows(state.ResMinute, "org_1", "str_1", "", 0, 1<<40, func(r state.AnalyticsRow) bool { b.WriteString(r.Country); return true })
	})
	if a.String() != b.String() || a.Len() == 0 {
		t.Errorf("replay differs: %q vs %q", a.String(), b.String())
	}
}

func TestEnsureViewerSalts(t *testing.T) {
	m := newMachine(t)
	first := []protocol.ViewerSalt{{Day: "2026-12-04", Salt: bytes.Repeat([]byte{1}, 32)}}
	var got []protocol.ViewerSalt
	m.must(fsm.CmdEnsureViewerSalts, fsm.EnsureViewerSalts{Salts: first}, &got)
	second := []protocol.ViewerSalt{{Day: "2026-12-04", Salt: bytes.Repeat([]byte{2}, 32)}, {Day: "2026-12-05", Salt: bytes.Repeat([]byte{3}, 32)}}
	m.must(fsm.CmdEnsureViewerSalts, fsm.EnsureViewerSalts{Salts: second}, &got)
	if len(got) != 2 || got[0].Salt[0] != 1 || got[1].Salt[0] != 3 {
		t.Fatalf("the first salt of a day must win: %+v", got)
	}
	m.must(fsm.CmdCompactAnalytics, fsm.CompactAnalytics{SaltsBefore: "2026-12-05", Max: 1}, nil)
	m.store.View(func(tx *state.Tx) error {
		if _, ok, _ := tx.ViewerSalt("2026-12-04"); ok {
			t.Error("an old salt was kept")
		}
		if _, ok, _ := tx.ViewerSalt("2026-12-05"); !ok {
			t.Error("a current salt was forgotten")
		}
		return nil
	})
	m.refuse(state.CodeInvalid, fsm.CmdEnsureViewerSalts, fsm.EnsureViewerSalts{Salts: []protocol.ViewerSalt{{Day: "2026-12-09"}}})
}
