package edge

import (
	"context"
	"time"

	"github.com/livestreams/livestreams/protocol"
)

// progressEvery is how often the edge tells the control plane of its
// jobs' progress: a few times a second for the event stream, with no Raft
// write (the lease renewal carries the percentage durably, less often).
const progressEvery = 400 * time.Millisecond

// progressLoop sends the running jobs' progress that changed since the
// last report until ctx ends. A report that fails is dropped: the next
// one carries newer figures.
func (l *jobLoop) progressLoop(ctx context.Context) {
	sent := map[string]*protocol.JobProgress{}
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var report protocol.JobProgressReport
		live := map[string]bool{}
		l.mu.Lock()
		for id, rj := range l.running {
			live[id] = true
			rj.mu.Lock()
			p := rj.progress
			rj.mu.Unlock()
			if rj.stopped || p == nil || sent[id] == p || len(report.Jobs) >= protocol.MaxProgressJobs {
				continue
			}
			sent[id] = p
			report.Jobs = append(report.Jobs, protocol.JobProgressUpdate{ID: id, Percent: p.Percent, Frame: p.Frame,
				FPS: p.FPS, Speed: p.Speed, BitrateKbps: p.BitrateKbps, Log: l.n.cfg.JobOutput.fresh(id)})
		}
		l.mu.Unlock()
		for id := range sent {
			if !live[id] {
				delete(sent, id)
			}
		}
		if len(report.Jobs) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := l.n.client.Call(cctx, protocol.TypeJobProgress, report, nil); err != nil && ctx.Err() == nil {
			l.n.log.Debug("report job progress", "err", err)
		}
		cancel()
	}
}
