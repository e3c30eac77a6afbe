package server

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/livestreams/livestreams/controlplane/events"
)

// startEvents builds this node's event hub over its own state, so the
// node serves the event stream whether it leads or follows, and the tails
// of running jobs' output.
func (s *Server) startEvents() {
	s.events = events.New(events.Config{Store: s.node.Store(), Logger: s.cfg.Logger})
	s.node.OnApply(s.events.Notify)
	s.tails = events.NewTails()
}

// eventCollectors are the event hub's series on the node's /metrics.
func (s *Server) eventCollectors() []prometheus.Collector {
	return []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "livestreams_sse_clients",
		Help: "Open event-stream subscriptions (GET /v1/events) on this control-plane node.",
	}, func() float64 { return float64(s.events.Clients()) })}
}

// runEvents dispatches events and, on the leader, applies their retention,
// until ctx ends.
func (s *Server) runEvents(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		events.NewPruner(events.PrunerConfig{Node: s.node, Retention: s.cfg.EventRetention, Max: s.cfg.EventRetentionMax,
			Logger: s.cfg.Logger}).Run(ctx)
	}()
	s.events.Run(ctx)
	<-done
}
