// Package events fans the control plane's event log out to subscribers in
// this process (the SSE endpoint, the webhook dispatcher): a Hub reads the
// events each applied Raft entry added to this node's state and hands
// them to the subscribers of their org, and carries ephemeral events (job
// progress) that never enter the log. Every node runs its own Hub over its
// own state, so any node can serve a subscription, and ids are the same
// everywhere. It does not write events (the FSM's commands do, through
// fsm.emit) nor speak HTTP.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Defaults of a Hub.
const (
	// DefaultBuffer is how many events a subscriber may fall behind the
	// log before it is dropped as too slow.
	DefaultBuffer = 1024
	// readBatch is how many events the hub reads from the store at once.
	readBatch = 512
	// safetyPoll re-reads the log this often even without a wake-up, so a
	// missed notification delays events but never loses them.
	safetyPoll = time.Second
)

// ErrSlow ends a subscription whose consumer fell more than its buffer
// behind; it resumes from its last id with a new subscription.
var ErrSlow = errors.New("subscriber too slow: more events pending than its buffer holds; reconnect with the last event id")

// ErrClosed ends subscriptions when the hub stops.
var ErrClosed = errors.New("event hub closed")

// Config configures a Hub.
type Config struct {
	Store *state.Store
	// Buffer is each subscriber's queue; DefaultBuffer if zero.
	Buffer int
	Logger *slog.Logger
}

// Hub is the in-process fan-out of one node's event log.
type Hub struct {
	store  *state.Store
	buffer int
	log    *slog.Logger
	wake   chan struct{}

	mu     sync.Mutex
	last   string // id of the last durable event dispatched
	subs   map[string]map[*Subscription]struct{}
	closed bool

	clients atomic.Int64
}

// New returns a hub positioned at the end of the store's log: events
// already there are read by subscribers' replay, not dispatched.
func New(cfg Config) *Hub {
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{store: cfg.Store, buffer: cfg.Buffer, log: cfg.Logger.With("component", "events"),
		wake: make(chan struct{}, 1), subs: map[string]map[*Subscription]struct{}{}}
	cfg.Store.View(func(tx *state.Tx) error { h.last = tx.LastEventID(); return nil })
	return h
}

// Notify tells the hub an entry was applied. It never blocks: the FSM
// calls it after each entry.
func (h *Hub) Notify(uint64) {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Clients is the number of open subscriptions (the SSE clients gauge).
func (h *Hub) Clients() int { return int(h.clients.Load()) }

// Run dispatches new events until ctx ends, then ends every subscription.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(safetyPoll)
	defer t.Stop()
	defer h.close()
	for {
		h.dispatch()
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-t.C:
		}
	}
}

func (h *Hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, set := range h.subs {
		for s := range set {
			h.dropLocked(s, ErrClosed)
		}
	}
}

// dispatch hands every event after the last dispatched one to its org's
// subscribers, in log order.
func (h *Hub) dispatch() {
	for {
		h.mu.Lock()
		var batch []state.Event
		err := h.store.View(func(tx *state.Tx) error {
			var err error
			batch, err = tx.EventsAfter(h.last, readBatch)
			return err
		})
		if err != nil {
			h.mu.Unlock()
			h.log.Error("read event log", "after", h.last, "err", err)
			return
		}
		for _, ev := range batch {
			h.deliverLocked(ev, true)
			h.last = ev.ID
		}
		h.mu.Unlock()
		if len(batch) < readBatch {
			return
		}
	}
}

// deliverLocked queues ev for the matching subscribers of its org. A
// durable event that does not fit drops the subscriber (it resumes from
// the log); an ephemeral one that does not fit is skipped for it.
func (h *Hub) deliverLocked(ev state.Event, durable bool) {
	d := &Delivery{Event: ev}
	for s := range h.subs[ev.OrgID] {
		// A consumer resuming after an id this node has not reached yet
		// already has the events up to it.
		if !s.filter.Match(ev) || durable && ev.ID <= s.after {
			continue
		}
		select {
		case s.ch <- d:
		default:
			if durable {
				h.dropLocked(s, ErrSlow)
			}
		}
	}
}

// Publish hands an ephemeral event (no id: job progress) to the matching
// subscribers of its org. It is not stored and not replayed.
func (h *Hub) Publish(ev state.Event) {
	ev.ID = ""
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliverLocked(ev, false)
}

// Subscription is one consumer's view of an org's events after an id:
// first those already in the log (Replay), then live ones (C).
type Subscription struct {
	hub    *Hub
	org    string
	filter state.EventFilter
	after  string // the id the consumer resumes after
	until  string // the last id dispatched when it subscribed
	ch     chan *Delivery
	done   chan struct{}
	err    error // set before done is closed
	once   sync.Once
}

// Subscribe opens a subscription to org's events that pass f, resuming
// after afterID ("" for live events only; see Replay). The consumer
// calls Replay once, then reads C until it is closed, then Close.
func (h *Hub) Subscribe(org, afterID string, f state.EventFilter) (*Subscription, error) {
	if _, _, err := state.ParseEventID(afterID); err != nil {
		return nil, err
	}
	s := &Subscription{hub: h, org: org, filter: f, after: afterID, ch: make(chan *Delivery, h.buffer), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s.until = h.last
	if h.subs[org] == nil {
		h.subs[org] = map[*Subscription]struct{}{}
	}
	h.subs[org][s] = struct{}{}
	h.clients.Add(1)
	return s, nil
}

// Replay calls fn for each stored event after the subscription's resume
// id up to the moment it subscribed, in order; C carries every later one.
// With no resume id there is nothing to replay. fn's error stops it.
func (s *Subscription) Replay(ctx context.Context, pageSize int, fn func(state.Event) error) error {
	if s.after == "" || s.until <= s.after {
		return nil
	}
	cursor := s.after
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var page []state.Event
		var next string
		err := s.hub.store.View(func(tx *state.Tx) error {
			var err error
			page, next, err = tx.OrgEventsAfter(s.org, cursor, s.filter, pageSize)
			return err
		})
		if err != nil {
			return fmt.Errorf("replay events after %s: %w", cursor, err)
		}
		for _, ev := range page {
			if ev.ID > s.until {
				return nil
			}
			if err := fn(ev); err != nil {
				return err
			}
			cursor = ev.ID
		}
		if next == "" {
			return nil
		}
	}
}

// C carries the live events, durable and ephemeral, in log order, after
// those Replay gives. It is never closed: watch Done.
func (s *Subscription) C() <-chan *Delivery { return s.ch }

// Delivery is one live event as every subscriber it goes to shares it, so
// that its wire form is made once however many read it.
type Delivery struct {
	Event state.Event
	once  sync.Once
	frame []byte
}

// Frame returns encode(d.Event), calling encode once for all the
// subscribers of the event. The result is shared: do not modify it.
func (d *Delivery) Frame(encode func(state.Event) []byte) []byte {
	d.once.Do(func() { d.frame = encode(d.Event) })
	return d.frame
}

// Done is closed when the hub ended the subscription (too slow, closed).
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is why the hub ended the subscription, nil while it runs.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.dropLocked(s, nil)
}

func (h *Hub) dropLocked(s *Subscription, why error) {
	s.once.Do(func() {
		if set := h.subs[s.org]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(h.subs, s.org)
			}
		}
		h.clients.Add(-1)
		s.err = why
		close(s.done)
	})
}
