package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/testutil"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// log is a state machine fed commands at increasing Raft indexes, with a
// hub on its store, as a control-plane node has.
type log struct {
	t     *testing.T
	f     *fsm.FSM
	store *state.Store
	hub   *Hub
	index atomic.Uint64
	mu    sync.Mutex
}

func newLog(t *testing.T, buffer int) *log {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l := &log{t: t, f: fsm.New(st, slog.New(slog.DiscardHandler)), store: st}
	l.hub = New(Config{Store: st, Buffer: buffer})
	l.f.OnApply(l.hub.Notify)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	l.apply(fsm.CmdCreateOrg, fsm.CreateOrg{Org: state.Org{ID: "org_a", Name: "A", CreatedAt: t0}})
	l.apply(fsm.CmdCreateOrg, fsm.CreateOrg{Org: state.Org{ID: "org_b", Name: "B", CreatedAt: t0}})
	return l
}

func (l *log) apply(typ string, body any) {
	l.t.Helper()
	data, err := fsm.Encode(typ, body)
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	res := l.f.Apply(&raft.Log{Index: l.index.Add(1), Type: raft.LogCommand, Data: data}).(fsm.Result)
	if res.Err != nil {
		l.t.Fatalf("%s: %v", typ, res.Err)
	}
}

// job queues a job of org, which emits one job.queued event.
func (l *log) job(org string, n int) {
	l.t.Helper()
	l.apply(fsm.CmdCreateJob, fsm.CreateJob{Job: state.Job{ID: fmt.Sprintf("job_%s_%d", org, n), OrgID: org, Type: "vod",
		MaxAttempts: 1, CreatedAt: t0.Add(time.Duration(n) * time.Second)}})
}

func (l *log) ids(org string) []string {
	var out []string
	l.store.View(func(tx *state.Tx) error {
		evs, _, err := tx.OrgEventsAfter(org, "", state.EventFilter{}, 1_000_000)
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return err
	})
	return out
}

// collect reads a subscription (replay, then live) until it has n events
// or the deadline passes.
func collect(t *testing.T, s *Subscription, n int) []state.Event {
	t.Helper()
	ctx := testutil.Context(t, 10*time.Second)
	var got []state.Event
	if err := s.Replay(ctx, 7, func(ev state.Event) error { got = append(got, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	for len(got) < n {
		select {
		case d := <-s.C():
			got = append(got, d.Event)
		case <-s.Done():
			t.Fatalf("subscription ended after %d events: %v", len(got), s.Err())
		case <-ctx.Done():
			t.Fatalf("%d events of %d before the deadline", len(got), n)
		}
	}
	return got
}

// TestResumeWhileWriting subscribes after an id while commands keep
// applying: replay and live events together are every later event of the
// org exactly once, in log order, whatever the moment of subscription.
func TestResumeWhileWriting(t *testing.T) {
	t.Parallel()
	l := newLog(t, 0)
	for i := range 20 {
		l.job("org_a", i)
		l.job("org_b", i)
	}
	resume := l.ids("org_a")[9]
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for i := 20; i < 60; i++ {
			l.job("org_a", i)
			l.job("org_b", i)
		}
	}()
	s, err := l.hub.Subscribe("org_a", resume, state.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := collect(t, s, 50)
	<-writing
	want := l.ids("org_a")[10:]
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i, ev := range got {
		if ev.ID != want[i] || ev.OrgID != "org_a" {
			t.Fatalf("event %d: %s of %s, want %s", i, ev.ID, ev.OrgID, want[i])
		}
	}
	select {
	case d := <-s.C():
		t.Fatalf("an extra event %s", d.Event.ID)
	default:
	}
}

// TestResumeAheadOfThisNode resumes after an id this node has not applied
// yet (the client came from a node further ahead): nothing up to it is
// sent again.
func TestResumeAheadOfThisNode(t *testing.T) {
	t.Parallel()
	l := newLog(t, 0)
	l.job("org_a", 0)
	ahead := state.EventID(l.index.Load()+2, 0)
	s, err := l.hub.Subscribe("org_a", ahead, state.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l.job("org_a", 1) // index+1: before the resume id
	l.job("org_a", 2) // index+2: the resume id itself
	l.job("org_a", 3)
	got := collect(t, s, 1)
	if got[0].ID <= ahead || got[0].JobID != "job_org_a_3" {
		t.Fatalf("first event %s (%s), want the one after %s", got[0].ID, got[0].JobID, ahead)
	}
}

// TestSlowSubscriberIsDropped fills one subscriber's buffer: it is ended
// with ErrSlow while another one, reading, gets every event.
func TestSlowSubscriberIsDropped(t *testing.T) {
	t.Parallel()
	l := newLog(t, 4)
	slow, err := l.hub.Subscribe("org_a", "", state.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := l.hub.Subscribe("org_a", "", state.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	var got []state.Event
	var received atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for len(got) < 20 {
			select {
			case d := <-fast.C():
				got = append(got, d.Event)
				received.Add(1)
			case <-fast.Done():
				return
			}
		}
	}()
	for i := range 20 {
		l.job("org_a", i)
		// Let the fast reader keep up: the hub dispatches a batch at a
		// time, and a batch larger than the buffer would drop it too. An
		// empty channel is not enough: on a busy machine the hub may not
		// have delivered this event yet, and the next ones would come
		// in one batch.
		testutil.Eventually(t, 5*time.Second, "the fast reader", func() bool {
			select {
			case <-done:
				return true
			default:
			}
			return received.Load() > int32(i)
		})
	}
	<-done
	if len(got) != 20 {
		t.Fatalf("the reading subscriber got %d events (ended: %v)", len(got), fast.Err())
	}
	testutil.Eventually(t, 5*time.Second, "the slow subscriber to be dropped", func() bool {
		return errors.Is(slow.Err(), ErrSlow)
	})
	if n := l.hub.Clients(); n != 1 {
		t.Fatalf("%d clients after the drop, want 1", n)
	}
}

// TestFilterAndEphemeral checks that a job filter passes that job's
// events only, durable and ephemeral, and that an ephemeral one has no id.
func TestFilterAndEphemeral(t *testing.T) {
	t.Parallel()
	l := newLog(t, 0)
	s, err := l.hub.Subscribe("org_a", "", state.EventFilter{JobID: "job_org_a_1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l.job("org_a", 0)
	l.job("org_a", 1)
	got := collect(t, s, 1)
	l.hub.Publish(state.Event{OrgID: "org_a", Type: state.EventJobProgress, JobID: "job_org_a_0", ID: "x"})
	l.hub.Publish(state.Event{OrgID: "org_b", Type: state.EventJobProgress, JobID: "job_org_a_1"})
	l.hub.Publish(state.Event{OrgID: "org_a", Type: state.EventJobProgress, JobID: "job_org_a_1", ID: "x"})
	got = append(got, collect(t, s, 1)...)
	if got[0].JobID != "job_org_a_1" || got[0].Type != state.EventJobQueued || got[0].ID == "" {
		t.Fatalf("first event %+v", got[0])
	}
	if got[1].Type != state.EventJobProgress || got[1].ID != "" || got[1].OrgID != "org_a" {
		t.Fatalf("second event %+v, want org_a's progress without an id", got[1])
	}
}
