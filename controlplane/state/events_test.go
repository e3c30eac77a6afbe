package state

import (
	"path/filepath"
	"testing"
	"time"
)

func FuzzParseEventID(f *testing.F) {
	for _, s := range []string{"", EventID(1, 0), EventID(1<<63, 0xffff), "0000000000000001-0000", "00000000000000010000",
		"0000000000000001-00000", "000000000000000G-0000", "0000000000000001_0000", "FFFFFFFFFFFFFFFF-FFFF", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		index, seq, err := ParseEventID(s)
		if err != nil {
			return
		}
		if s == "" {
			if index != 0 || seq != 0 {
				t.Fatalf("empty id parsed as %d/%d", index, seq)
			}
			return
		}
		// Whatever parses is exactly what EventID makes: ids compare as
		// strings in the order of their numbers.
		if back := EventID(index, seq); back != s {
			t.Fatalf("%q parsed as %d/%d, which formats as %q", s, index, seq, back)
		}
	})
}

func TestEventIDsSortInLogOrder(t *testing.T) {
	ids := []string{EventID(9, 0), EventID(9, 1), EventID(10, 0), EventID(0x100, 0), EventID(1<<40, 0xfffe)}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Fatalf("%s does not sort before %s", ids[i-1], ids[i])
		}
	}
}

// appendAt appends an event as the FSM does: with the applied index set.
func appendAt(t *testing.T, st *Store, index uint64, evs ...Event) []Event {
	t.Helper()
	var out []Event
	err := st.Update(func(tx *Tx) error {
		if err := tx.SetAppliedIndex(index); err != nil {
			return err
		}
		for _, ev := range evs {
			got, err := tx.AppendEvent(ev)
			if err != nil {
				return err
			}
			out = append(out, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAppendListPrune(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := appendAt(t, st, 5, Event{OrgID: "a", Type: EventSessionStarted, StreamID: "s1", At: t0},
		Event{OrgID: "b", Type: EventSessionStarted, At: t0})
	if got[0].ID != EventID(5, 0) || got[1].ID != EventID(5, 1) {
		t.Fatalf("ids %s %s", got[0].ID, got[1].ID)
	}
	for i := range 10 {
		appendAt(t, st, uint64(6+i), Event{OrgID: "a", Type: EventJobQueued, JobID: "j", At: t0.Add(time.Duration(i+1) * time.Hour)})
	}
	st.View(func(tx *Tx) error {
		evs, next, err := tx.OrgEventsAfter("a", "", EventFilter{}, 4)
		if err != nil || len(evs) != 4 || next != evs[3].ID {
			t.Fatalf("first page: %d events, next %q, %v", len(evs), next, err)
		}
		evs, _, _ = tx.OrgEventsAfter("a", "", EventFilter{StreamID: "s1"}, 100)
		if len(evs) != 1 || evs[0].ID != EventID(5, 0) {
			t.Fatalf("stream filter: %+v", evs)
		}
		if last := tx.LastEventID(); last != EventID(15, 0) {
			t.Fatalf("last id %s", last)
		}
		return nil
	})
	// Age: events before t0+3h go (org a: the session and two jobs; org b:
	// its only event). Count: then a keeps its newest 5.
	var n int
	err = st.Update(func(tx *Tx) error { var err error; n, err = tx.PruneEvents(t0.Add(3*time.Hour), 5); return err })
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Fatalf("pruned %d, want 7", n)
	}
	st.View(func(tx *Tx) error {
		evs, _, _ := tx.OrgEventsAfter("a", "", EventFilter{}, 100)
		if len(evs) != 5 || evs[0].ID != EventID(11, 0) {
			t.Fatalf("org a keeps %d events from %s", len(evs), evs[0].ID)
		}
		if b, _, _ := tx.OrgEventsAfter("b", "", EventFilter{}, 100); len(b) != 0 {
			t.Fatalf("org b keeps %d", len(b))
		}
		return nil
	})
}
