// Package workpool bounds the work that requests from outside start on an
// edge: ffmpeg runs for on-demand thumbnails and anything else a viewer's
// request, not a leased job, can cause. A Pool runs at most Workers pieces
// of work at once, lets at most Queue more wait, each no longer than Wait,
// and stops each after Timeout; what finds the queue full, or waits too
// long, fails at once with an error that says when to retry (ErrBusy),
// which the HLS origin answers with 503 and Retry-After. However many
// requests arrive, the CPU the live ladder needs is not taken from it by
// more than Workers processes (which also run at a lower priority).
//
// It does not cache or coalesce results (the caller's cache does: one
// piece of work per distinct result), and it starts no goroutines: work
// runs in the caller's.
package workpool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Config sizes a Pool; zero fields take the defaults.
type Config struct {
	// Workers is how many pieces of work run at once (default: half the
	// CPUs, at least 1).
	Workers int
	// Queue is how many more may wait for a worker (default 4 × Workers).
	Queue int
	// Wait is the longest a piece of work waits for a worker (default 2s).
	Wait time.Duration
	// Timeout bounds one piece of work once it runs (default 15s).
	Timeout time.Duration
	// RetryAfter is what a refused caller is told (default 2s).
	RetryAfter time.Duration
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = max(runtime.NumCPU()/2, 1)
	}
	if c.Queue <= 0 {
		c.Queue = 4 * c.Workers
	}
	if c.Wait <= 0 {
		c.Wait = 2 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 2 * time.Second
	}
	return c
}

// ErrBusy is what Do returns (wrapped in an error with a RetryAfter
// method) when the pool cannot take the work.
var ErrBusy = errors.New("too much work in progress")

// busyError is ErrBusy with the time to come back after.
type busyError struct {
	after  time.Duration
	reason string
}

func (e *busyError) Error() string             { return fmt.Sprintf("%s: %s", ErrBusy, e.reason) }
func (e *busyError) Is(target error) bool      { return target == ErrBusy }
func (e *busyError) RetryAfter() time.Duration { return e.after }

// Pool bounds concurrent work. It is safe for concurrent use.
type Pool struct {
	cfg   Config
	slots chan struct{}

	mu      sync.Mutex
	waiting int

	running, refused, done atomic.Int64
}

// New returns a Pool sized by cfg.
func New(cfg Config) *Pool {
	cfg = cfg.withDefaults()
	return &Pool{cfg: cfg, slots: make(chan struct{}, cfg.Workers)}
}

// Config returns the pool's configuration, defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// Do runs fn when a worker is free, with a context that ends after
// Timeout (or with ctx). It fails with ErrBusy, without running fn, when
// Queue callers already wait or no worker frees up within Wait; with ctx's
// error when ctx ends first.
func (p *Pool) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	select {
	case p.slots <- struct{}{}: // a worker is free: no queue
	default:
		if err := p.queue(ctx); err != nil {
			return err
		}
	}
	defer func() { <-p.slots }()
	p.running.Add(1)
	defer p.running.Add(-1)
	wctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	err := fn(wctx)
	p.done.Add(1)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("work stopped after %s: %w", p.cfg.Timeout, err)
	}
	return err
}

// queue waits for a worker, if there is room to wait; it holds a slot
// when it returns nil.
func (p *Pool) queue(ctx context.Context) error {
	p.mu.Lock()
	if p.waiting >= p.cfg.Queue {
		p.mu.Unlock()
		p.refused.Add(1)
		return &busyError{after: p.cfg.RetryAfter, reason: "queue full"}
	}
	p.waiting++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
	}()
	t := time.NewTimer(p.cfg.Wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-t.C:
		p.refused.Add(1)
		return &busyError{after: p.cfg.RetryAfter, reason: fmt.Sprintf("no worker free within %s", p.cfg.Wait)}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats counts what a Pool has done.
type Stats struct {
	Running int64 // pieces of work running now
	Waiting int64 // waiting for a worker now
	Done    int64 // run to the end (with or without an error)
	Refused int64 // refused with ErrBusy
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	w := p.waiting
	p.mu.Unlock()
	return Stats{Running: p.running.Load(), Waiting: int64(w), Done: p.done.Load(), Refused: p.refused.Load()}
}
