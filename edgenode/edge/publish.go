package edge

// The edge's side of every publish, whatever the ingest protocol: the live
// core (package live) asks it whether a key may go live and tells it when
// a session starts and ends; it asks the control plane, keeps the
// playback state the HLS origin serves, and queues the recording.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/token"
)

// Attempts and timeouts of the session reports.
const (
	reportTimeout     = 5 * time.Second
	reportEndTries    = 5
	reportEndLastCall = 2 * time.Second // the one try made while shutting down
)

// liveControl is the node as the live core's Control.
type liveControl struct{ n *Node }

// Authorize asks the control plane before any media is accepted.
func (c liveControl) Authorize(ctx context.Context, req live.PublishRequest) (live.Grant, error) {
	n := c.n
	key := trimKey(req.StreamKey)
	if n.draining.Load() {
		n.log.Info("publish refused: edge is draining", "key", redact(key), "protocol", req.Protocol, "remote_addr", req.RemoteAddr)
		return live.Grant{}, errors.New("this edge is draining; publish to another edge")
	}
	var reply protocol.AuthorizePublishReply
	err := n.client.Call(ctx, protocol.TypeAuthorizePublish,
		protocol.AuthorizePublishRequest{StreamKey: key, Protocol: req.Protocol, RemoteAddr: req.RemoteAddr}, &reply)
	if err != nil {
		n.log.Info("publish refused", "key", redact(key), "protocol", req.Protocol, "remote_addr", req.RemoteAddr, "err", err)
		return live.Grant{}, fmt.Errorf("authorize publish: %w", err)
	}
	st := reply.Stream
	n.setPlayback(st, reply.SigningKeys, true)
	g := live.Grant{SessionID: reply.SessionID, Latency: transcode.Latency(st.LatencyMode),
		DVRWindow: time.Duration(st.DVRWindow) * time.Second, HLSDir: n.hlsDir(st.PlaybackID),
		Logger: n.log.With("stream_id", st.ID)}
	if st.Recording {
		g.RecordPath = n.recordingPath(reply.SessionID, st.OrgID)
	}
	n.mu.Lock()
	n.sessions[reply.SessionID] = st
	n.mu.Unlock()
	n.advertise()
	return g, nil
}

// Started tells the control plane what the source is.
func (c liveControl) Started(ctx context.Context, g live.Grant, src live.Source) {
	n := c.n
	st, ok := n.sessionStream(g.SessionID)
	if !ok {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	err := n.client.Call(cctx, protocol.TypeSessionStarted, protocol.SessionStarted{SessionID: g.SessionID, StreamID: st.ID,
		Source: protocol.SourceInfo{Width: src.Width, Height: src.Height, FPS: src.FrameRate, HasAudio: src.HasAudio,
			HasVideo: src.HasVideo, VideoCodec: src.VideoCodec, AudioCodec: src.AudioCodec}}, nil)
	if err != nil && ctx.Err() == nil {
		n.log.Warn("report session start", "session_id", g.SessionID, "err", err)
	}
}

// Ended queues the recording (durably, before anything can fail) and
// tells the control plane, retrying while the node runs: a lost report is
// repaired by the heartbeat (the session is no longer listed) anyway.
func (c liveControl) Ended(ctx context.Context, g live.Grant, end live.End) {
	n := c.n
	n.mu.Lock()
	st := n.sessions[g.SessionID]
	delete(n.sessions, g.SessionID)
	// Listed in heartbeats until the end is reported (or given up on):
	// a heartbeat between here and the report must not make the control
	// plane close the session as lost before the report says why it ended.
	n.ending[g.SessionID] = true
	if p := n.byPID[st.PlaybackID]; p != nil {
		p.live = false
	}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.ending, g.SessionID)
		n.mu.Unlock()
	}()
	n.advertise()
	n.queueRecording(g, end)
	msg := protocol.SessionEnded{SessionID: g.SessionID, Reason: end.Reason, RecordingPath: end.RecordingPath, RecordingBytes: end.RecordingBytes}
	for attempt := range reportEndTries {
		timeout := reportTimeout
		if ctx.Err() != nil {
			// Shutting down: one short try, so the control plane learns
			// at once; the edge's lease covers the rest.
			timeout = reportEndLastCall
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		err := n.client.Call(cctx, protocol.TypeSessionEnded, msg, nil)
		cancel()
		if err == nil {
			return
		}
		var pe *protocol.Error
		if errors.As(err, &pe) {
			n.log.Warn("report session end refused", "session_id", g.SessionID, "err", err)
			return
		}
		if !sleepCtx(ctx, time.Duration(attempt+1)*500*time.Millisecond) {
			break
		}
	}
	n.log.Warn("could not report session end; the heartbeat will", "session_id", g.SessionID)
}

// sleepCtx waits d unless ctx ends first; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// heartbeatSessions are the sessions a heartbeat reports: the live ones
// and those whose end is still being reported.
func (n *Node) heartbeatSessions() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.sessions)+len(n.ending))
	for id := range n.sessions {
		out = append(out, id)
	}
	for id := range n.ending {
		if _, live := n.sessions[id]; !live {
			out = append(out, id)
		}
	}
	return out
}

func (n *Node) sessionStream(id string) (protocol.StreamInfo, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, ok := n.sessions[id]
	return st, ok
}

// playback is what the HLS origin needs to serve one playback id.
type playback struct {
	signed bool
	keys   token.Keys
	live   bool
	at     time.Time
}

func (n *Node) setPlayback(st protocol.StreamInfo, keys []protocol.SigningKey, isLive bool) {
	ks := n.verifyKeys(keys)
	n.mu.Lock()
	n.byPID[st.PlaybackID] = &playback{signed: st.PlaybackPolicy == "signed", keys: ks, live: isLive, at: time.Now()}
	n.mu.Unlock()
}

// verifyKeys turns the signing keys the control plane sent into the keys
// that verify playback tokens, leaving out (and logging) unusable ones.
func (n *Node) verifyKeys(keys []protocol.SigningKey) token.Keys {
	ks := token.Keys{}
	for _, k := range keys {
		pub, err := token.ParsePublicPEM(k.PublicPEM)
		if err != nil {
			n.log.Warn("unusable signing key", "key_id", k.ID, "err", err)
			continue
		}
		ks[k.ID] = pub
	}
	return ks
}
