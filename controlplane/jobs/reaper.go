package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
)

// ReaperConfig configures a Reaper.
type ReaperConfig struct {
	Node Node
	// Interval between checks; one second by default.
	Interval time.Duration
	// Clock gives the time the expiry is judged at; time.Now by default.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Reaper takes jobs back from edges: leases that lapsed, attempts past
// their type's timeout, and queued jobs pinned to a session that ended (see
// fsm.ExpireLeases). Every node may run one; only the leader's acts, so
// each overdue job is judged once, by one clock.
type Reaper struct {
	node     Node
	interval time.Duration
	clock    func() time.Time
	log      *slog.Logger
	reaped   atomic.Uint64
}

// NewReaper returns a Reaper; Run starts it.
func NewReaper(cfg ReaperConfig) *Reaper {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reaper{node: cfg.Node, interval: cfg.Interval, clock: cfg.Clock, log: cfg.Logger}
}

// Run reaps every interval until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.Reap(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("reap jobs", "err", err)
		}
	}
}

// Reaped counts the jobs this node's reaper has re-queued, failed or
// cancelled (a metric).
func (r *Reaper) Reaped() uint64 { return r.reaped.Load() }

// Reap acts once, if this node leads and something is overdue. The check
// reads local state so an idle cluster writes nothing; the command judges
// again, at the same time, against the committed state, where a renewal
// that landed first wins.
func (r *Reaper) Reap(ctx context.Context) (fsm.ExpireResult, error) {
	if !r.node.IsLeader() {
		return fsm.ExpireResult{}, nil
	}
	now := r.clock().UTC()
	var due []state.OverdueJob
	err := r.node.Store().View(func(tx *state.Tx) error {
		var err error
		due, err = tx.OverdueJobs(now)
		return err
	})
	if err != nil || len(due) == 0 {
		return fsm.ExpireResult{}, err
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var res fsm.ExpireResult
	if err := r.node.ApplyInto(actx, fsm.CmdExpireLeases, fsm.ExpireLeases{Now: now}, &res); err != nil {
		return fsm.ExpireResult{}, fmt.Errorf("expire job leases: %w", err)
	}
	for _, id := range res.Requeued {
		r.log.Info("job taken back from its edge and re-queued", "job_id", id)
	}
	for _, id := range res.Failed {
		r.log.Info("job failed: its lease lapsed or it timed out, and it may not run again", "job_id", id)
	}
	for _, id := range res.Cancelled {
		r.log.Info("job cancelled by the reaper", "job_id", id)
	}
	r.reaped.Add(uint64(len(res.Requeued) + len(res.Failed) + len(res.Cancelled)))
	return res, nil
}
