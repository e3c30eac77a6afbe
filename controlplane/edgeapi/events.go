package edgeapi

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
)

// ProgressSink takes the ephemeral progress of running jobs: the events
// hub of this node, the tails of job output, and the other control-plane
// nodes (package server implements it).
type ProgressSink interface {
	JobProgress(ev state.Event, log []string)
}

// Throttles of what edges report for events.
const (
	// progressGap is the least time between two progress events of a job.
	progressGap = 250 * time.Millisecond
	// refusalGap is the least time between two recorded refusals of one
	// stream from one address: a bot retrying a disabled key cannot
	// flood the org's log.
	refusalGap = 10 * time.Second
	// maxThrottled bounds the throttles' memory.
	maxThrottled = 10_000
)

// throttle lets one thing through per key every gap.
type throttle struct {
	mu   sync.Mutex
	gap  time.Duration
	last map[string]time.Time
}

func newThrottle(gap time.Duration) *throttle {
	return &throttle{gap: gap, last: map[string]time.Time{}}
}

func (t *throttle) allow(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last[key]; ok && now.Sub(last) < t.gap {
		return false
	}
	if len(t.last) >= maxThrottled {
		for k, at := range t.last {
			if now.Sub(at) >= t.gap {
				delete(t.last, k)
			}
		}
		if len(t.last) >= maxThrottled {
			return false
		}
	}
	t.last[key] = now
	return true
}

// jobProgress turns an edge's progress report into ephemeral events of the
// jobs it holds, at most one per job every progressGap.
func (s *Service) jobProgress(peer protocol.Peer, r protocol.JobProgressReport) (any, error) {
	if s.cfg.Progress == nil || len(r.Jobs) == 0 {
		return struct{}{}, nil
	}
	if len(r.Jobs) > protocol.MaxProgressJobs {
		r.Jobs = r.Jobs[:protocol.MaxProgressJobs]
	}
	now := s.cfg.Now().UTC()
	for _, u := range r.Jobs {
		var j state.Job
		if err := s.view(func(tx *state.Tx) error { var err error; j, err = tx.Job(u.ID); return err }); err != nil {
			continue
		}
		if !j.Active() || j.LeaseHolder != peer.Hello.NodeID || j.Type == "webhook" {
			continue
		}
		if !s.progress.allow(j.ID, now) {
			continue
		}
		data := map[string]any{"percent": min(max(u.Percent, 0), 100), "frame": max(u.Frame, 0), "fps": max(u.FPS, 0),
			"speed": max(u.Speed, 0), "bitrate_kbps": max(u.BitrateKbps, 0), "attempt": j.Attempts}
		ev := state.Event{OrgID: j.OrgID, Type: state.EventJobProgress, JobID: j.ID, AssetID: j.AssetID,
			StreamID: j.StreamID, SessionID: j.SessionID, At: now}
		ev.Data, _ = json.Marshal(data)
		s.cfg.Progress.JobProgress(ev, cleanLines(u.Log))
	}
	return struct{}{}, nil
}

// jobLog stores the tail of an attempt's output before its end is
// reported.
func (s *Service) jobLog(ctx context.Context, peer protocol.Peer, r protocol.JobLog) (any, error) {
	lines, truncated := state.TrimJobLog(cleanLines(r.Lines))
	_, err := s.cfg.Node.Apply(ctx, fsm.CmdPutJobLog, fsm.PutJobLog{EdgeID: peer.Hello.NodeID, ID: r.ID, Lines: lines,
		Truncated: truncated || r.Truncated, At: s.cfg.Now().UTC()})
	if err != nil {
		return nil, protoErr(err)
	}
	return struct{}{}, nil
}

// cleanLines bounds the lines an edge sends: how many, how long, valid
// UTF-8.
func cleanLines(lines []string) []string {
	if len(lines) > protocol.MaxLogLinesPerMsg {
		lines = lines[len(lines)-protocol.MaxLogLinesPerMsg:]
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, clip(l, protocol.MaxLogLineLen))
	}
	return out
}

// recordRefusal records a refused publish of a known stream as a
// publish.refused event, at most once per stream and address every
// refusalGap. It never fails the refusal: the event is a courtesy.
func (s *Service) recordRefusal(ctx context.Context, streamID, proto, remoteAddr, reason string) {
	if streamID == "" {
		return
	}
	now := s.cfg.Now().UTC()
	if !s.refusals.allow(streamID+"|"+hostOf(remoteAddr), now) {
		return
	}
	var st state.Stream
	if err := s.view(func(tx *state.Tx) error { var err error; st, err = tx.Stream(streamID); return err }); err != nil {
		return
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.cfg.Node.Apply(actx, fsm.CmdPublishRefused, fsm.PublishRefused{OrgID: st.OrgID, StreamID: st.ID,
		Protocol: proto, Reason: clip(reason, 256), At: now}); err != nil {
		s.log.Warn("record refused publish", "stream_id", streamID, "err", err)
	}
}

// hostOf drops the port of a remote address, so retries from new source
// ports share one throttle.
func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i]
		}
		if addr[i] == ']' {
			break
		}
	}
	return addr
}
