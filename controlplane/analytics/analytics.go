// Package analytics is the control plane's side of viewer analytics: it
// stores the rollups edges ship (one Raft write per batch), hands edges the
// daily viewer salts, answers queries over the stored rows, and, on the
// leader, compacts them: minutes older than MinuteRetention are folded
// into hours, hours older than HourRetention deleted.
//
// It does not see beacons or viewers: edges aggregate (package
// edgenode/beacon) and ship per-minute rollups over QUIC.
package analytics

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
)

// Defaults of Config.
const (
	DefaultMinuteRetention = 3 * 24 * time.Hour
	DefaultHourRetention   = 90 * 24 * time.Hour
	DefaultCompactEvery    = time.Minute
	compactMax             = 2000
)

// Config configures a Service.
type Config struct {
	Node   *cluster.Node
	Logger *slog.Logger
	Now    func() time.Time
	// MinuteRetention is how long per-minute rows are kept before they
	// are folded into hours; HourRetention how long hours are kept.
	MinuteRetention, HourRetention time.Duration
	// CompactEvery is how often the leader compacts.
	CompactEvery time.Duration
}

// Service stores and answers analytics.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns a service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MinuteRetention <= 0 {
		cfg.MinuteRetention = DefaultMinuteRetention
	}
	if cfg.HourRetention <= 0 {
		cfg.HourRetention = DefaultHourRetention
	}
	if cfg.CompactEvery <= 0 {
		cfg.CompactEvery = DefaultCompactEvery
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "analytics")}
}

// Store records an edge's batch with one Raft write and answers the
// viewer salts of today and tomorrow.
func (s *Service) Store(ctx context.Context, edgeID string, b protocol.AnalyticsRollups) (protocol.AnalyticsRollupsReply, error) {
	if len(b.Rollups) > protocol.MaxRollupsPerBatch {
		return protocol.AnalyticsRollupsReply{}, &protocol.Error{Code: protocol.CodeInvalid,
			Message: fmt.Sprintf("%d rollups in one batch, at most %d", len(b.Rollups), protocol.MaxRollupsPerBatch)}
	}
	if len(b.Rollups) > 0 {
		if b.BatchID == "" || len(b.BatchID) > 64 {
			return protocol.AnalyticsRollupsReply{}, &protocol.Error{Code: protocol.CodeInvalid, Message: "batch_id must be 1-64 characters"}
		}
		cmd := fsm.AnalyticsRollups{BatchID: b.BatchID, EdgeID: edgeID, At: s.cfg.Now().Unix(), Rollups: b.Rollups}
		if _, err := s.cfg.Node.Apply(ctx, fsm.CmdAnalyticsRollups, cmd); err != nil {
			return protocol.AnalyticsRollupsReply{}, fmt.Errorf("store analytics batch: %w", err)
		}
	}
	salts, err := s.Salts(ctx)
	return protocol.AnalyticsRollupsReply{Salts: salts}, err
}

// Salts returns the viewer salts of today and tomorrow (UTC), making them
// (through Raft) when they do not exist yet.
func (s *Service) Salts(ctx context.Context) ([]protocol.ViewerSalt, error) {
	now := s.cfg.Now().UTC()
	days := []string{now.Format(time.DateOnly), now.Add(24 * time.Hour).Format(time.DateOnly)}
	var out []protocol.ViewerSalt
	err := s.cfg.Node.Store().View(func(tx *state.Tx) error {
		for _, d := range days {
			salt, ok, err := tx.ViewerSalt(d)
			if err != nil || !ok {
				return err
			}
			out = append(out, protocol.ViewerSalt{Day: d, Salt: salt})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read viewer salts: %w", err)
	}
	if len(out) == len(days) {
		return out, nil
	}
	var cmd fsm.EnsureViewerSalts
	for _, d := range days {
		salt := make([]byte, 32)
		rand.Read(salt)
		cmd.Salts = append(cmd.Salts, protocol.ViewerSalt{Day: d, Salt: salt})
	}
	out = nil
	if err := s.cfg.Node.ApplyInto(ctx, fsm.CmdEnsureViewerSalts, cmd, &out); err != nil {
		return nil, fmt.Errorf("make viewer salts: %w", err)
	}
	return out, nil
}

// RunCompactor compacts on the leader every CompactEvery until ctx ends;
// followers skip each tick.
func (s *Service) RunCompactor(ctx context.Context) {
	t := time.NewTicker(s.cfg.CompactEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.cfg.Node.IsLeader() {
			continue
		}
		if _, err := s.Compact(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("compact analytics", "err", err)
		}
	}
}

// Compact runs compaction commands until one finds less than a full
// batch of work, and returns the total.
func (s *Service) Compact(ctx context.Context) (fsm.Compacted, error) {
	now := s.cfg.Now().UTC()
	minutesBefore := now.Add(-s.cfg.MinuteRetention).Unix()
	minutesBefore -= minutesBefore % 3600 // whole hours only
	cmd := fsm.CompactAnalytics{MinutesBefore: minutesBefore, HoursBefore: now.Add(-s.cfg.HourRetention).Unix(),
		BatchesBefore: now.Add(-24 * time.Hour).Unix(), SaltsBefore: now.Add(-24 * time.Hour).Format(time.DateOnly), Max: compactMax}
	var total fsm.Compacted
	for range 100 { // bounded: at most 200k rows a tick
		var done fsm.Compacted
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.cfg.Node.ApplyInto(actx, fsm.CmdCompactAnalytics, cmd, &done)
		cancel()
		if err != nil {
			return total, err
		}
		total.Folded += done.Folded
		total.Deleted += done.Deleted
		if done.Folded < compactMax && done.Deleted < compactMax {
			break
		}
	}
	if total.Folded > 0 || total.Deleted > 0 {
		s.log.Info("analytics compacted", "minutes_folded", total.Folded, "hours_deleted", total.Deleted)
	}
	return total, nil
}
