package edge

import (
	"context"
	"errors"
	"time"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/token"
)

// onPublish authorizes a publish with the control plane before any media is
// accepted, then starts a live session as the publish's sink.
func (n *Node) onPublish(ctx context.Context, req rtmp.PublishRequest) (rtmp.Sink, error) {
	key := trimKey(req.StreamKey)
	if n.draining.Load() {
		n.log.Info("publish refused: edge is draining", "key", redact(key), "remote_addr", req.RemoteAddr)
		return nil, errors.New("this edge is draining; publish to another edge")
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var reply protocol.AuthorizePublishReply
	err := n.client.Call(actx, protocol.TypeAuthorizePublish,
		protocol.AuthorizePublishRequest{StreamKey: key, Protocol: "rtmp", RemoteAddr: req.RemoteAddr}, &reply)
	if err != nil {
		n.log.Info("publish refused", "key", redact(key), "remote_addr", req.RemoteAddr, "err", err)
		return nil, err
	}
	st := reply.Stream
	n.setPlayback(st, reply.SigningKeys, true)
	latency := transcode.Latency(st.LatencyMode)
	rec := ""
	if st.Recording {
		rec = n.recordingPath(reply.SessionID, st.OrgID)
	}
	ls := &liveSession{id: reply.SessionID, stream: st}
	sess, err := live.New(context.Background(), live.Config{
		ID: reply.SessionID, Latency: latency, HLSDir: n.hlsDir(st.PlaybackID), RecordPath: rec,
		FFmpeg: n.cfg.FFmpeg, Logger: n.log.With("stream_id", st.ID),
		OnStart: func(src live.Source) { n.reportStart(ls, src) },
		OnEnd:   func(end live.End) { n.reportEnd(ls, end) },
	})
	if err != nil {
		n.reportEnd(ls, live.End{Reason: "edge_error", Err: err})
		return nil, err
	}
	ls.sess = sess
	n.mu.Lock()
	n.sessions[ls.id] = ls
	n.mu.Unlock()
	n.advertise()
	n.log.Info("publish started", "session_id", ls.id, "stream_id", st.ID, "remote_addr", req.RemoteAddr)
	return sess, nil
}

func (n *Node) reportStart(ls *liveSession, src live.Source) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := n.client.Call(ctx, protocol.TypeSessionStarted, protocol.SessionStarted{SessionID: ls.id, StreamID: ls.stream.ID,
		Source: protocol.SourceInfo{Width: src.Width, Height: src.Height, FPS: src.FrameRate, HasAudio: src.HasAudio,
			HasVideo: src.HasVideo, VideoCodec: src.VideoCodec, AudioCodec: src.AudioCodec}}, nil)
	if err != nil {
		n.log.Warn("report session start", "session_id", ls.id, "err", err)
	}
}

// reportEnd tells the control plane, retrying for a while: a lost report is
// repaired by the heartbeat (the session is no longer listed) anyway.
func (n *Node) reportEnd(ls *liveSession, end live.End) {
	n.mu.Lock()
	delete(n.sessions, ls.id)
	if p := n.byPID[ls.stream.PlaybackID]; p != nil {
		p.live = false
	}
	n.mu.Unlock()
	n.advertise()
	n.queueRecording(ls, end.RecordingPath)
	msg := protocol.SessionEnded{SessionID: ls.id, Reason: end.Reason, RecordingPath: end.RecordingPath, RecordingBytes: end.RecordingBytes}
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := n.client.Call(ctx, protocol.TypeSessionEnded, msg, nil)
		cancel()
		if err == nil {
			return
		}
		var pe *protocol.Error
		if errors.As(err, &pe) {
			n.log.Warn("report session end refused", "session_id", ls.id, "err", err)
			return
		}
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
	n.log.Warn("could not report session end; the heartbeat will", "session_id", ls.id)
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
