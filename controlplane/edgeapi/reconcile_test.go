package edgeapi

import (
	"slices"
	"testing"
	"time"
)

// TestMissingSessionsNeedTwoHeartbeats: a session one heartbeat leaves
// out (its end report may be in flight) is not closed; one still missing
// a grace later is; one reported again is forgotten.
func TestMissingSessionsNeedTwoHeartbeats(t *testing.T) {
	var m missing
	t0 := time.Unix(1_700_000_000, 0)
	grace := 5 * time.Second
	if got := m.stale("e1", []string{"a", "b"}, t0, grace); len(got) != 0 {
		t.Fatalf("first miss closed %v", got)
	}
	if got := m.stale("e2", []string{"c"}, t0, grace); len(got) != 0 {
		t.Fatalf("another edge's first miss closed %v", got)
	}
	if got := m.stale("e1", []string{"a", "b"}, t0.Add(2*time.Second), grace); len(got) != 0 {
		t.Fatalf("a miss within the grace closed %v", got)
	}
	// b is reported again (or ended): forgotten; a is still missing.
	if got := m.stale("e1", []string{"a"}, t0.Add(grace), grace); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("still missing after the grace: %v, want [a]", got)
	}
	if got := m.stale("e1", []string{"b"}, t0.Add(grace+time.Second), grace); len(got) != 0 {
		t.Fatalf("a session missing again after being reported closed at once: %v", got)
	}
	if _, ok := m.since["c"]; !ok {
		t.Fatal("one edge's heartbeat forgot another edge's record")
	}
	m.stale("e1", nil, t0.Add(2*forgetMissing), grace)
	if len(m.since) != 0 {
		t.Fatalf("records of an edge that stopped calling are kept: %v", m.since)
	}
}
