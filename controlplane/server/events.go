package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/livestreams/livestreams/controlplane/events"
	"github.com/livestreams/livestreams/controlplane/state"
)

// startEvents builds this node's event hub over its own state, so the
// node serves the event stream whether it leads or follows, the tails of
// running jobs' output, and the relay of job progress to the other nodes.
func (s *Server) startEvents() {
	s.events = events.New(events.Config{Store: s.node.Store(), Logger: s.cfg.Logger})
	s.node.OnApply(s.events.Notify)
	s.tails = events.NewTails()
	s.progress = &progressRelay{s: s, out: make(chan []byte, progressQueue)}
	s.node.OnEphemeral(s.progress.received)
}

// eventCollectors are the event hub's series on the node's /metrics.
func (s *Server) eventCollectors() []prometheus.Collector {
	return []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "livestreams_sse_clients",
		Help: "Open event-stream subscriptions (GET /v1/events) on this control-plane node.",
	}, func() float64 { return float64(s.events.Clients()) })}
}

// runEvents dispatches events, relays job progress and, on the leader,
// applies the event retention, until ctx ends.
func (s *Server) runEvents(ctx context.Context) {
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		events.NewPruner(events.PrunerConfig{Node: s.node, Retention: s.cfg.EventRetention, Max: s.cfg.EventRetentionMax,
			Logger: s.cfg.Logger}).Run(ctx)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		s.progress.run(ctx)
	}()
	s.events.Run(ctx)
	<-done
	<-done
}

// progressQueue bounds the progress messages waiting to go to the other
// nodes; beyond it they are dropped (the next one supersedes them).
const progressQueue = 256

// progressRelay shows job progress to this node's event-stream clients
// and sends it on to the other control-plane nodes, which show it to
// theirs: an edge talks to one node, clients to any.
type progressRelay struct {
	s   *Server
	out chan []byte
}

type progressMessage struct {
	Event state.Event `json:"event"`
	Log   []string    `json:"log,omitempty"`
}

// JobProgress implements edgeapi.ProgressSink.
func (p *progressRelay) JobProgress(ev state.Event, log []string) {
	p.show(ev, log)
	raw, err := json.Marshal(progressMessage{Event: ev, Log: log})
	if err != nil {
		return
	}
	select {
	case p.out <- raw:
	default:
	}
}

func (p *progressRelay) show(ev state.Event, log []string) {
	p.s.events.Publish(ev)
	p.s.tails.Append(ev.OrgID, ev.JobID, log)
}

// received takes a message another node relayed.
func (p *progressRelay) received(body []byte) {
	var m progressMessage
	if json.Unmarshal(body, &m) != nil || m.Event.Type != state.EventJobProgress || m.Event.OrgID == "" {
		return
	}
	p.show(m.Event, m.Log)
}

func (p *progressRelay) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case raw := <-p.out:
			if err := p.s.node.Broadcast(ctx, raw, time.Second); err != nil && ctx.Err() == nil {
				p.s.log.Debug("relay job progress", "err", err)
			}
		}
	}
}
