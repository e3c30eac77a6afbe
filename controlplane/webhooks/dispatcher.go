// Package webhooks delivers an org's events to its endpoints, signed, at
// least once. The Dispatcher runs on every control-plane node and acts
// only on the leader: it fans each new event of the replicated event log
// out into one delivery per matching endpoint (a Raft write, so a new
// leader resumes where the old one stopped), POSTs the due ones with
// bounded concurrency through a client that refuses non-public addresses
// at connect time (guard.go), and records every attempt through Raft with
// the next one scheduled by exponential backoff with jitter. Receivers
// check deliveries with Verify (signature.go).
//
// It does not decide who may manage endpoints (the API does), nor keep
// the event log (package events and the state do).
package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
)

// Node is the part of a cluster node the dispatcher uses.
type Node interface {
	ApplyInto(ctx context.Context, typ string, body, out any) error
	Store() *state.Store
	IsLeader() bool
}

// Backoff is the retry policy: attempt n+1 comes Base·2^(n-1) after
// attempt n, at most Cap, with ±20% jitter, until Window after the
// delivery was created; then the delivery fails.
type Backoff struct {
	Base, Cap, Window time.Duration
}

// DefaultBackoff retries for about a day: 1 s, 2 s, 4 s … 1 h, 1 h …
// (some 35 attempts).
var DefaultBackoff = Backoff{Base: time.Second, Cap: time.Hour, Window: 24 * time.Hour}

// Next returns when attempt n+1 of a delivery created at created should
// be made, after attempt n ended at now; zero when the policy gives up.
func (b Backoff) Next(n int, created, now time.Time, rnd func() float64) time.Time {
	d := b.Base
	for i := 1; i < n && d < b.Cap; i++ {
		d *= 2
	}
	d = min(d, b.Cap)
	d = time.Duration(float64(d) * (0.8 + 0.4*rnd()))
	next := now.Add(d)
	if next.After(created.Add(b.Window)) {
		return time.Time{}
	}
	return next
}

// DefaultRetention is how long finished deliveries are kept.
const DefaultRetention = 30 * 24 * time.Hour

// pruneEvery is how often the leader deletes the deliveries past
// retention, pruneBatch at most per command.
const (
	pruneEvery = time.Hour
	pruneBatch = 5000
)

// Config configures a Dispatcher.
type Config struct {
	Node Node
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses (--webhook-allow-private).
	AllowPrivate bool
	// Timeout bounds one attempt; DefaultTimeout when zero.
	Timeout time.Duration
	// Backoff is the retry policy; DefaultBackoff when zero.
	Backoff Backoff
	// Concurrency bounds the attempts in flight (64 by default);
	// PerEndpoint those to one endpoint (8 by default).
	Concurrency, PerEndpoint int
	// Interval is how often the leader looks for new events and due
	// deliveries when nothing wakes it (250 ms by default).
	Interval time.Duration
	// Retention is how long finished deliveries are kept (30 days by
	// default); pending ones stay until they end.
	Retention time.Duration
	// Client sends the deliveries; nil builds NewHTTPClient (tests may
	// pass their own, never to bypass the guard in production).
	Client *http.Client
	Logger *slog.Logger
	Now    func() time.Time
}

// Dispatcher fans events out into deliveries and sends them.
type Dispatcher struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	wake   chan struct{}

	metrics metrics

	mu    sync.Mutex
	stats Stats
}

// Stats counts what this node's dispatcher did.
type Stats struct {
	Attempts, Succeeded, Failed uint64
}

// New returns a Dispatcher; Run starts it.
func New(cfg Config) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = 8
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := cfg.Client
	if c == nil {
		c = NewHTTPClient(cfg.AllowPrivate, cfg.Timeout, cfg.PerEndpoint)
	}
	return &Dispatcher{cfg: cfg, log: cfg.Logger.With("component", "webhooks"), client: c, wake: make(chan struct{}, 1),
		metrics: newMetrics()}
}

// Notify wakes the dispatcher (new events, a redelivery); it never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counts so far.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// result is one finished attempt, waiting to be recorded.
type result struct {
	delivery state.WebhookDelivery
	attempt  state.WebhookAttempt
}

// Run works until ctx ends: while this node leads it fans out and
// delivers; when it stops leading it cancels its attempts (the new leader
// makes them again: at least once) and waits.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		if d.cfg.Node.IsLeader() {
			d.lead(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// lead runs the leader's loop until ctx ends or leadership is lost.
// Attempts run in their own goroutines (at most Concurrency, PerEndpoint
// per endpoint); their results are recorded by one recorder goroutine in
// batches, while the next attempts go out. A delivery stays in inflight
// from its start until its attempt is recorded, so it is never sent twice
// at once.
func (d *Dispatcher) lead(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	results := make(chan result, d.cfg.Concurrency)
	toRecord := make(chan []result)
	recorded := make(chan []result)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case batch := <-toRecord:
				d.record(ctx, batch)
				select {
				case recorded <- batch:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	fl := &flight{inflight: map[string]bool{}, perHook: map[string]int{}, gauge: d.metrics.sending}
	defer d.metrics.sending.Set(0)
	var pending []result // finished, waiting for the recorder
	recording := false
	cursor := "" // fanned out in memory beyond the stored cursor
	fanOut := true
	var pruned time.Time
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	d.log.Info("webhook dispatcher leading")
	for {
		if !d.cfg.Node.IsLeader() {
			d.log.Info("webhook dispatcher no longer leading")
			return
		}
		if fanOut {
			var err error
			if cursor, err = d.fanOut(ctx, cursor); err != nil && ctx.Err() == nil {
				d.log.Warn("fan out webhook events", "err", err)
			}
			fanOut = false
		}
		if now := d.cfg.Now(); now.Sub(pruned) >= pruneEvery {
			if n, err := d.Prune(ctx, now); err != nil && ctx.Err() == nil {
				d.log.Warn("prune webhook deliveries", "err", err)
			} else if n < pruneBatch {
				pruned = now // else more are left: again next turn
			}
		}
		next := d.start(ctx, &wg, results, fl)

		var wait <-chan time.Time
		var timer *time.Timer
		if !next.IsZero() {
			timer = time.NewTimer(max(next.Sub(d.cfg.Now()), time.Millisecond))
			wait = timer.C
		}
		var send chan<- []result
		if !recording && len(pending) > 0 {
			send = toRecord
		}
		select {
		case <-ctx.Done():
		case r := <-results:
			fl.finished(r)
			pending = append(pending, r)
		case send <- pending:
			pending, recording = nil, true
		case batch := <-recorded:
			recording = false
			for _, r := range batch {
				delete(fl.inflight, r.delivery.ID)
			}
		case <-t.C:
			fanOut = true
		case <-d.wake:
			fanOut = true
		case <-wait:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// Prune deletes up to pruneBatch finished deliveries older than the
// retention at now, and returns how many.
func (d *Dispatcher) Prune(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := d.apply(ctx, fsm.CmdPruneDeliveries, fsm.PruneDeliveries{Before: now.UTC().Add(-d.cfg.Retention), Max: pruneBatch}, &n)
	return n, err
}

// flight is what the leader's loop has under way: the deliveries started
// and not yet recorded, and the attempts still sending, per endpoint.
type flight struct {
	inflight map[string]bool
	sending  int
	perHook  map[string]int
	gauge    prometheus.Gauge
}

func (f *flight) started(del state.WebhookDelivery) {
	f.inflight[del.ID] = true
	f.sending++
	f.perHook[del.WebhookID]++
	f.gauge.Set(float64(f.sending))
}

func (f *flight) finished(r result) {
	f.sending--
	f.gauge.Set(float64(f.sending))
	if f.perHook[r.delivery.WebhookID]--; f.perHook[r.delivery.WebhookID] <= 0 {
		delete(f.perHook, r.delivery.WebhookID)
	}
}

// fanOut turns the events after the cursor into deliveries, a batch at a
// time, and returns the new in-memory cursor. Only batches that create
// deliveries are written (with the stored cursor): a cluster without
// endpoints writes nothing, and a new leader scanning again from the
// stored cursor finds the same nothing (endpoints skip events from before
// they were created).
func (d *Dispatcher) fanOut(ctx context.Context, mem string) (string, error) {
	for range 20 { // at most 20 batches per turn, so deliveries go out meanwhile
		var cmd fsm.CreateDeliveries
		var last string
		err := d.cfg.Node.Store().View(func(tx *state.Tx) error {
			from := max(tx.WebhookCursor(), mem)
			evs, err := tx.EventsAfter(from, 500)
			if err != nil || len(evs) == 0 {
				return err
			}
			hooks, err := tx.Webhooks("")
			if err != nil {
				return err
			}
			byOrg := map[string][]state.Webhook{}
			for _, w := range hooks {
				byOrg[w.OrgID] = append(byOrg[w.OrgID], w)
			}
			now := d.cfg.Now().UTC()
			for _, ev := range evs {
				var more []state.WebhookDelivery
				for _, w := range byOrg[ev.OrgID] {
					if !w.Wants(ev.Type) || ev.ID < w.FromEvent || tx.DeliveryFor(ev.ID, w.ID) != "" {
						continue
					}
					body, err := Body(ev)
					if err != nil {
						d.log.Warn("event not sent to webhooks", "event_id", ev.ID, "err", err)
						break
					}
					more = append(more, NewDelivery(w, ev.ID, ev.Type, body, now))
				}
				// An event's deliveries go in one command; the command
				// stays under the state machine's bound (the next turn
				// takes the rest).
				if len(cmd.Deliveries) > 0 && len(cmd.Deliveries)+len(more) > fsm.MaxDeliveriesPerFanOut {
					break
				}
				cmd.Deliveries = append(cmd.Deliveries, more...)
				last = ev.ID
			}
			return nil
		})
		if err != nil || last == "" {
			return mem, err
		}
		if len(cmd.Deliveries) > 0 {
			cmd.Cursor = last
			if err := d.apply(ctx, fsm.CmdCreateDeliveries, cmd, nil); err != nil {
				return mem, err
			}
		}
		mem = last
	}
	return mem, nil
}

// Body is the JSON a delivery of ev sends.
func Body(ev state.Event) ([]byte, error) {
	b, err := json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		CreatedAt time.Time       `json:"created_at"`
		OrgID     string          `json:"org_id"`
		StreamID  string          `json:"stream_id,omitempty"`
		AssetID   string          `json:"asset_id,omitempty"`
		JobID     string          `json:"job_id,omitempty"`
		SessionID string          `json:"session_id,omitempty"`
		Data      json.RawMessage `json:"data,omitempty"`
	}{ev.ID, ev.Type, ev.At.UTC(), ev.OrgID, ev.StreamID, ev.AssetID, ev.JobID, ev.SessionID, ev.Data})
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("event %s: body of %d bytes exceeds %d", ev.ID, len(b), MaxBody)
	}
	return b, nil
}

// NewDelivery is a pending delivery of an event to an endpoint, due now.
func NewDelivery(w state.Webhook, eventID, eventType string, body []byte, now time.Time) state.WebhookDelivery {
	return state.WebhookDelivery{ID: ids.New("whd"), OrgID: w.OrgID, WebhookID: w.ID, EventID: eventID,
		EventType: eventType, Body: body, Status: state.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
}

// start launches the due deliveries it has room for and returns when the
// earliest one not yet due will be.
func (d *Dispatcher) start(ctx context.Context, wg *sync.WaitGroup, results chan<- result, fl *flight) time.Time {
	room := d.cfg.Concurrency - fl.sending
	if room <= 0 {
		return time.Time{}
	}
	type job struct {
		del     state.WebhookDelivery
		hook    state.Webhook
		exists  bool
		readErr error
	}
	var jobs []job
	var next time.Time
	now := d.cfg.Now().UTC()
	err := d.cfg.Node.Store().View(func(tx *state.Tx) error {
		taken := map[string]int{}
		due, n, err := tx.DueDeliveries(now, room, func(hook, id string) bool {
			if fl.inflight[id] || fl.perHook[hook]+taken[hook] >= d.cfg.PerEndpoint {
				return false
			}
			taken[hook]++
			return true
		})
		next = n
		for _, del := range due {
			fl.started(del)
			w, werr := tx.Webhook(del.OrgID, del.WebhookID)
			j := job{del: del, hook: w, exists: werr == nil}
			if werr != nil && !state.IsNotFound(werr) {
				j.exists, j.readErr = true, werr
			}
			jobs = append(jobs, j)
		}
		return err
	})
	if err != nil {
		d.log.Warn("read due webhook deliveries", "err", err)
	}
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a state.WebhookAttempt
			switch {
			case j.readErr != nil:
				a = state.WebhookAttempt{At: d.cfg.Now().UTC(), Error: "read endpoint: " + j.readErr.Error()}
			case !j.exists:
				a = state.WebhookAttempt{At: d.cfg.Now().UTC(), Error: errEndpointDeleted}
			case !j.hook.Enabled:
				a = state.WebhookAttempt{At: d.cfg.Now().UTC(), Error: errEndpointDisabled}
			default:
				a = d.attempt(ctx, j.hook, j.del)
			}
			a.N = len(j.del.Attempts) + 1
			select {
			case results <- result{j.del, a}:
			case <-ctx.Done():
			}
		}()
	}
	return next
}

// record writes a batch of finished attempts in one command.
func (d *Dispatcher) record(ctx context.Context, batch []result) {
	cmd := fsm.RecordWebhookAttempts{}
	for _, r := range batch {
		cmd.Attempts = append(cmd.Attempts, d.recordOf(r))
	}
	if err := d.apply(ctx, fsm.CmdRecordWebhookAttempts, cmd, nil); err != nil {
		if ctx.Err() == nil {
			// Unrecorded attempts are made again: at least once.
			d.log.Warn("record webhook attempts", "attempts", len(batch), "err", err)
		}
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, r := range batch {
		final := cmd.Attempts[i].NextAttemptAt.IsZero()
		d.metrics.recorded(r.attempt, final)
		d.stats.Attempts++
		if r.attempt.OK {
			d.stats.Succeeded++
		} else if final {
			d.stats.Failed++
		}
	}
}

// recordOf is the record of a finished attempt, with the next one
// scheduled by the backoff unless it succeeded or cannot succeed.
func (d *Dispatcher) recordOf(r result) fsm.RecordWebhookAttempt {
	rec := fsm.RecordWebhookAttempt{ID: r.delivery.ID, Attempt: r.attempt}
	if !r.attempt.OK && r.attempt.Error != errEndpointDeleted && r.attempt.Error != errEndpointDisabled {
		rec.NextAttemptAt = d.cfg.Backoff.Next(r.attempt.N, r.delivery.CreatedAt, r.attempt.At, rand.Float64)
	}
	return rec
}

// Errors of attempts that are not made.
const (
	errEndpointDeleted  = "endpoint deleted"
	errEndpointDisabled = "endpoint disabled"
)

func (d *Dispatcher) apply(ctx context.Context, typ string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return d.cfg.Node.ApplyInto(ctx, typ, body, out)
}

// attempt POSTs a delivery once and says how it went.
func (d *Dispatcher) attempt(ctx context.Context, w state.Webhook, del state.WebhookDelivery) state.WebhookAttempt {
	start := d.cfg.Now()
	a := state.WebhookAttempt{At: start.UTC()}
	code, body, err := Send(ctx, d.client, w.URL, w.SecretSealed, del, start)
	a.LatencyMS = time.Since(start).Milliseconds()
	a.ResponseCode, a.ResponseBody = code, body
	switch {
	case err != nil:
		a.Error = err.Error()
	case code < 200 || code > 299:
		a.Error = fmt.Sprintf("answered %d", code)
	default:
		a.OK = true
	}
	return a
}

// Send POSTs a delivery's body to url signed with secret at now, and
// returns the answer's status and the start of its body (at most 1 KiB
// kept of 64 KiB read). Errors never carry the secret.
func Send(ctx context.Context, c *http.Client, url, secret string, del state.WebhookDelivery, now time.Time) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(del.Body))
	if err != nil {
		return 0, "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Livestreams-Webhooks/1")
	req.Header.Set(HeaderSignature, Sign(secret, now, del.Body))
	req.Header.Set(HeaderEventID, del.EventID)
	req.Header.Set(HeaderEventType, del.EventType)
	req.Header.Set("Livestreams-Delivery-Id", del.ID)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", errors.Unwrap(err) // the *url.Error repeats the URL
	}
	defer resp.Body.Close()
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	kept := buf[:min(len(buf), maxResponseKept)]
	for len(kept) > 0 && !utf8.Valid(kept) {
		kept = kept[:len(kept)-1] // a rune cut at the limit
	}
	text := strings.ToValidUTF8(string(kept), "\uFFFD")
	if err != nil {
		return resp.StatusCode, text, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, text, nil
}
