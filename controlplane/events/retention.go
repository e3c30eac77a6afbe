package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
)

// Retention defaults: the --event-retention and --event-retention-max
// flags of the control plane.
const (
	DefaultRetention    = 7 * 24 * time.Hour
	DefaultRetentionMax = 100_000
)

// Node is the part of the Raft member the pruner needs.
type Node interface {
	IsLeader() bool
	Apply(ctx context.Context, typ string, body any) (json.RawMessage, error)
}

// PrunerConfig configures a Pruner.
type PrunerConfig struct {
	Node Node
	// Retention is how long an event is kept; Max how many an org keeps
	// at most (0: no bound). Zero Retention means DefaultRetention.
	Retention time.Duration
	Max       uint64
	// Interval between prunes; a minute if zero.
	Interval time.Duration
	Clock    func() time.Time
	Logger   *slog.Logger
}

// Pruner applies the event retention. Every node may run one; only the
// leader's proposes, with the bounds inside the command, so every node
// deletes the same events whatever its own flags say.
type Pruner struct{ cfg PrunerConfig }

// NewPruner returns a Pruner; Run starts it.
func NewPruner(cfg PrunerConfig) *Pruner {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pruner{cfg: cfg}
}

// Run prunes every interval until ctx ends.
func (p *Pruner) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := p.Prune(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Warn("prune events", "err", err)
		}
	}
}

// Prune proposes one prune when this node leads and returns how many
// events it deleted.
func (p *Pruner) Prune(ctx context.Context) (int, error) {
	if !p.cfg.Node.IsLeader() {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := p.cfg.Node.Apply(ctx, fsm.CmdPruneEvents,
		fsm.PruneEvents{Before: p.cfg.Clock().UTC().Add(-p.cfg.Retention), Max: p.cfg.Max})
	if err != nil {
		return 0, err
	}
	var n int
	json.Unmarshal(raw, &n)
	if n > 0 {
		p.cfg.Logger.Info("pruned events", "deleted", n)
	}
	return n, nil
}
