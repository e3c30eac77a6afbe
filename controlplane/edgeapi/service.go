// Package edgeapi is the control plane's side of the edge protocol: it
// lets an edge join once with a single-use join token (issuing its client
// certificate), authenticates edges by that certificate afterwards (the
// certificate owns the node id), authorizes publishes by stream key,
// records live sessions and edge leases through Raft, and tells edges which
// signing keys verify a stream's playback tokens. It does not route viewers
// (the API does, from the edge records this package keeps current).
package edgeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/analytics"
	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/streamkey"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/pki"
)

// Config configures the service.
type Config struct {
	Node   *cluster.Node
	Logger *slog.Logger
	// HeartbeatInterval is how often edges report; LeaseTTL how long an
	// edge may stay silent before its sessions are closed.
	HeartbeatInterval time.Duration
	LeaseTTL          time.Duration
	Now               func() time.Time
	// Jobs is the media job queue edges lease from; nil refuses job
	// messages as unavailable.
	Jobs *jobs.Service
	// Analytics stores the viewer rollups edges ship; nil refuses them.
	Analytics *analytics.Service
	// CertTTL is how long an edge certificate lasts; pki.NodeCertValidity
	// if zero.
	CertTTL time.Duration
	// Progress takes jobs' progress for the event stream (events.go); nil
	// drops it.
	Progress ProgressSink
}

// Service handles edge messages.
type Service struct {
	cfg Config
	log *slog.Logger
	// missing delays closing sessions a heartbeat leaves out (reconcile.go).
	missing missing
	metrics metrics // metrics.go
	// progress and refusals throttle what becomes an event (events.go).
	progress, refusals *throttle
}

// New returns a service.
func New(cfg Config) *Service {
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 2 * time.Second
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CertTTL <= 0 {
		cfg.CertTTL = pki.NodeCertValidity
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "edgeapi"), metrics: newMetrics(),
		progress: newThrottle(progressGap), refusals: newThrottle(refusalGap)}
}

func (s *Service) view(fn func(*state.Tx) error) error { return s.cfg.Node.Store().View(fn) }

func (s *Service) meta() (state.Meta, error) {
	var m state.Meta
	var ok bool
	err := s.view(func(tx *state.Tx) error {
		var err error
		m, ok, err = tx.Meta()
		return err
	})
	if err == nil && !ok {
		err = &protocol.Error{Code: protocol.CodeUnavailable, Message: "cluster is not initialized yet"}
	}
	return m, err
}

// Authenticate admits an edge by its client certificate (see identify)
// and records it with a fresh lease, its URLs as this hello states them:
// only the certificate's owner can change where viewers are sent. The
// reply carries the CA bundle and, when due, the order to renew.
func (s *Service) Authenticate(ctx context.Context, h protocol.Hello) (protocol.HelloReply, error) {
	rec, trust, err := s.identify(h)
	if err != nil {
		return protocol.HelloReply{}, err
	}
	m, err := s.meta()
	if err != nil {
		return protocol.HelloReply{}, err
	}
	if err := s.renewLease(ctx, h); err != nil {
		return protocol.HelloReply{}, err
	}
	renew := needsRenewal(rec, trust, s.cfg.Now())
	s.log.Info("edge connected", "edge_id", h.NodeID, "region", h.Region, "version", h.Version, "renew_certificate", renew)
	return protocol.HelloReply{ClusterID: m.ClusterID, NodeID: s.cfg.Node.ID(),
		HeartbeatIntervalMS: s.cfg.HeartbeatInterval.Milliseconds(), LeaseTTLMS: s.cfg.LeaseTTL.Milliseconds(),
		CABundlePEM: string(trust.Bundle()), RenewCertificate: renew}, nil
}

func (s *Service) renewLease(ctx context.Context, h protocol.Hello) error {
	now := s.cfg.Now().UTC()
	e := state.Edge{ID: h.NodeID, Region: h.Region, RTMPURL: h.RTMPURL, RTMPSURL: h.RTMPSURL, HLSURL: h.HLSURL, SRTURL: h.SRTURL,
		WHIPURL: h.WHIPURL, Lat: h.Lat, Lon: h.Lon, FirstSeenAt: now, LeaseExpiresAt: now.Add(s.cfg.LeaseTTL)}
	_, err := s.cfg.Node.Apply(ctx, fsm.CmdPutEdge, e)
	return err
}

// Handle dispatches one request from an authenticated edge.
func (s *Service) Handle(ctx context.Context, peer protocol.Peer, typ string, body json.RawMessage) (any, error) {
	if err := s.stillValid(peer); err != nil {
		return nil, err
	}
	switch typ {
	case protocol.TypeRenewCertificate:
		return decodeAnd(body, func(r protocol.RenewCertificateRequest) (any, error) { return s.renewCertificate(ctx, peer, r) })
	case protocol.TypeWatchSigningKeys:
		return decodeAnd(body, func(r protocol.WatchSigningKeysRequest) (any, error) { return s.watchSigningKeys(ctx, r) })
	case protocol.TypeAuthorizePublish:
		return decodeAnd(body, func(r protocol.AuthorizePublishRequest) (any, error) { return s.authorizeMeasured(ctx, peer, r) })
	case protocol.TypeSessionStarted:
		return decodeAnd(body, func(r protocol.SessionStarted) (any, error) { return s.sessionStarted(ctx, peer, r) })
	case protocol.TypeSessionEnded:
		return decodeAnd(body, func(r protocol.SessionEnded) (any, error) { return s.sessionEnded(ctx, peer, r) })
	case protocol.TypeHeartbeat:
		return decodeAnd(body, func(r protocol.Heartbeat) (any, error) { return s.heartbeat(ctx, peer, r) })
	case protocol.TypePlaybackInfo:
		return decodeAnd(body, func(r protocol.PlaybackInfoRequest) (any, error) { return s.playbackInfo(r) })
	case protocol.TypeLeaseJobs:
		return decodeAnd(body, func(r protocol.LeaseJobsRequest) (any, error) { return s.leaseJobs(ctx, peer, r) })
	case protocol.TypeRenewJobs:
		return decodeAnd(body, func(r protocol.RenewJobsRequest) (any, error) { return s.renewJobs(ctx, peer, r) })
	case protocol.TypeWatchJobs:
		return decodeAnd(body, func(r protocol.WatchJobsRequest) (any, error) { return s.watchJobs(ctx, peer, r) })
	case protocol.TypeFinishJob:
		return decodeAnd(body, func(r protocol.FinishJobRequest) (any, error) { return s.finishJob(ctx, peer, r) })
	case protocol.TypeAnalyticsRollups:
		return decodeAnd(body, func(r protocol.AnalyticsRollups) (any, error) { return s.analyticsRollups(ctx, peer, r) })
	case protocol.TypeRestreamCredentials:
		return decodeAnd(body, func(r protocol.RestreamCredentialsRequest) (any, error) { return s.restreamCredentials(peer, r) })
	case protocol.TypeRestreamStatus:
		return decodeAnd(body, func(r protocol.RestreamStatus) (any, error) { return s.restreamStatus(ctx, peer, r) })
	case protocol.TypeJobProgress:
		return decodeAnd(body, func(r protocol.JobProgressReport) (any, error) { return s.jobProgress(peer, r) })
	case protocol.TypeJobLog:
		return decodeAnd(body, func(r protocol.JobLog) (any, error) { return s.jobLog(ctx, peer, r) })
	case protocol.TypeRecordingUploaded:
		return decodeAnd(body, func(r protocol.RecordingUploaded) (any, error) { return s.recordingUploaded(ctx, peer, r) })
	}
	return nil, &protocol.Error{Code: protocol.CodeUnknownType, Message: "unknown message type " + typ}
}

func decodeAnd[T any](body json.RawMessage, fn func(T) (any, error)) (any, error) {
	var req T
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: "malformed body: " + err.Error()}
	}
	return fn(req)
}

func forbidden(msg string) *protocol.Error {
	return &protocol.Error{Code: protocol.CodeForbidden, Message: msg}
}

// Bounds on what an edge reports of a publisher; longer values are cut.
const (
	maxProtocolLen   = 16
	maxRemoteAddrLen = 128
)

func (s *Service) authorizePublish(ctx context.Context, peer protocol.Peer, r protocol.AuthorizePublishRequest) (any, error) {
	m, err := s.meta()
	if err != nil {
		return nil, err
	}
	r.Protocol, r.RemoteAddr = clip(r.Protocol, maxProtocolLen), clip(r.RemoteAddr, maxRemoteAddrLen)
	// refuse logs a refused publish, which records nothing, with why.
	refuse := func(streamID string, err *protocol.Error) error {
		s.log.Info("publish refused", "edge_id", peer.Hello.NodeID, "stream_id", streamID, "key", streamkey.Redact(r.StreamKey),
			"protocol", r.Protocol, "remote_addr", r.RemoteAddr, "reason", err.Message)
		s.recordRefusal(ctx, streamID, r.Protocol, r.RemoteAddr, err.Message)
		return err
	}
	if r.StreamKey == "" || len(r.StreamKey) > 256 {
		return nil, refuse("", forbidden("unknown stream key"))
	}
	var st state.Stream
	if err := s.view(func(tx *state.Tx) error {
		var err error
		st, err = tx.StreamByKeyHash(streamkey.Hash(m.StreamKeySecret, r.StreamKey))
		return err
	}); err != nil {
		return nil, refuse("", forbidden("unknown stream key"))
	}
	if st.Disabled {
		return nil, refuse(st.ID, forbidden("stream is disabled"))
	}
	var edge state.Edge
	if s.view(func(tx *state.Tx) error { var err error; edge, err = tx.Edge(peer.Hello.NodeID); return err }) == nil && edge.Draining {
		return nil, refuse(st.ID, forbidden("this edge is draining; publish to another edge"))
	}
	info := streamInfo(st)
	if st.SRTPassphraseSealed != "" && r.Protocol == protocol.IngestSRT {
		// Sent for an SRT publish only, the one it applies to; opened
		// before the session is recorded, so a failure leaves none.
		if info.SRTPassphrase, err = streamkey.Open(m.StreamKeySecret, st.SRTPassphraseSealed); err != nil {
			return nil, fmt.Errorf("stream %s: open srt passphrase: %w", st.ID, err)
		}
	}
	sess := state.Session{ID: ids.New("ses"), StreamID: st.ID, OrgID: st.OrgID, EdgeID: peer.Hello.NodeID,
		Protocol: r.Protocol, RemoteAddr: r.RemoteAddr, StartedAt: s.cfg.Now().UTC()}
	if _, err := s.cfg.Node.Apply(ctx, fsm.CmdStartSession, fsm.StartSession{Session: sess}); err != nil {
		if state.IsConflict(err) {
			return nil, refuse(st.ID, &protocol.Error{Code: protocol.CodeConflict, Message: "stream is already live"})
		}
		return nil, fmt.Errorf("record session: %w", err)
	}
	keys, err := s.signingKeys(st.OrgID)
	if err != nil {
		return nil, err
	}
	s.log.Info("publish authorized", "edge_id", peer.Hello.NodeID, "stream_id", st.ID, "session_id", sess.ID,
		"protocol", r.Protocol, "remote_addr", r.RemoteAddr)
	return protocol.AuthorizePublishReply{SessionID: sess.ID, Stream: info, SigningKeys: keys}, nil
}

// clip cuts s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

func streamInfo(st state.Stream) protocol.StreamInfo {
	return protocol.StreamInfo{ID: st.ID, OrgID: st.OrgID, Name: st.Name, PlaybackID: st.PlaybackID,
		PlaybackPolicy: st.PlaybackPolicy, Recording: st.Recording, LatencyMode: st.LatencyMode,
		DVRWindow: st.DVRWindow}
}

func (s *Service) signingKeys(orgID string) ([]protocol.SigningKey, error) {
	var out []protocol.SigningKey
	err := s.view(func(tx *state.Tx) error {
		keys, err := tx.SigningKeys(orgID)
		for _, k := range keys {
			if k.RevokedAt == nil {
				out = append(out, protocol.SigningKey{ID: k.ID, PublicPEM: k.PublicPEM})
			}
		}
		return err
	})
	return out, err
}

// ownSession loads a session and checks it belongs to the calling edge.
func (s *Service) ownSession(peer protocol.Peer, id string) (state.Session, error) {
	var sess state.Session
	err := s.view(func(tx *state.Tx) error { var err error; sess, err = tx.Session(id); return err })
	if err != nil || sess.EdgeID != peer.Hello.NodeID {
		return sess, &protocol.Error{Code: protocol.CodeNotFound, Message: "no such session on this edge"}
	}
	return sess, nil
}

func (s *Service) sessionStarted(ctx context.Context, peer protocol.Peer, r protocol.SessionStarted) (any, error) {
	if _, err := s.ownSession(peer, r.SessionID); err != nil {
		return nil, err
	}
	src := state.SourceInfo{Width: r.Source.Width, Height: r.Source.Height, FPS: r.Source.FPS, HasAudio: r.Source.HasAudio,
		HasVideo: r.Source.HasVideo, VideoCodec: r.Source.VideoCodec, AudioCodec: r.Source.AudioCodec}
	_, err := s.cfg.Node.Apply(ctx, fsm.CmdSessionSource, fsm.SessionSource{ID: r.SessionID, Source: src, At: s.cfg.Now().UTC()})
	return struct{}{}, err
}

func (s *Service) sessionEnded(ctx context.Context, peer protocol.Peer, r protocol.SessionEnded) (any, error) {
	if _, err := s.ownSession(peer, r.SessionID); err != nil {
		return nil, err
	}
	reason := r.Reason
	if reason == "" {
		reason = "unpublished"
	}
	_, err := s.cfg.Node.Apply(ctx, fsm.CmdEndSession, fsm.EndSession{ID: r.SessionID, Reason: reason, At: s.cfg.Now().UTC(),
		RecordingBytes: max(r.RecordingBytes, 0)})
	return struct{}{}, err
}

// heartbeat renews the edge's lease and reconciles its sessions: a session
// the control plane thinks is open on this edge but the edge no longer
// reports (it restarted) is closed; one the edge reports but the control
// plane closed (stream disabled, lease lapsed) is cancelled on the edge.
func (s *Service) heartbeat(ctx context.Context, peer protocol.Peer, r protocol.Heartbeat) (any, error) {
	if err := s.renewLease(ctx, peer.Hello); err != nil {
		return nil, err
	}
	reported := map[string]bool{}
	for _, id := range r.Sessions {
		reported[id] = true
	}
	now := s.cfg.Now().UTC()
	var absent []string
	var cancel []string
	var drain bool
	s.view(func(tx *state.Tx) error {
		if e, err := tx.Edge(peer.Hello.NodeID); err == nil {
			drain = e.Draining
		}
		open, err := tx.Sessions(func(x state.Session) bool { return x.EdgeID == peer.Hello.NodeID && x.EndedAt == nil })
		for _, x := range open {
			// A session authorized moments ago may not be in this report yet.
			if !reported[x.ID] && now.Sub(x.StartedAt) > 2*s.cfg.LeaseTTL {
				absent = append(absent, x.ID)
			}
		}
		for id := range reported {
			x, err := tx.Session(id)
			if err != nil || x.EndedAt != nil {
				cancel = append(cancel, id)
				continue
			}
			if st, err := tx.Stream(x.StreamID); err != nil || st.Disabled {
				cancel = append(cancel, id)
			}
		}
		return err
	})
	// Closed only when a later heartbeat still leaves it out: the first
	// may have raced the session's own end report.
	for _, id := range s.missing.stale(peer.Hello.NodeID, absent, now, s.cfg.LeaseTTL/2) {
		if _, err := s.cfg.Node.Apply(ctx, fsm.CmdEndSession, fsm.EndSession{ID: id, Reason: "edge_restarted", At: now}); err != nil {
			s.log.Warn("close stale session", "session_id", id, "err", err)
		}
	}
	reply := protocol.HeartbeatReply{LeaseTTLMS: s.cfg.LeaseTTL.Milliseconds(), CancelSessions: cancel, Drain: drain}
	s.certOrders(peer, &reply)
	return reply, nil
}

func (s *Service) playbackInfo(r protocol.PlaybackInfoRequest) (any, error) {
	var st state.Stream
	var asset *state.Asset
	var origin, originURL string
	if err := s.view(func(tx *state.Tx) error {
		var err error
		if st, err = tx.StreamByPlaybackID(r.PlaybackID); state.IsNotFound(err) {
			a, err := tx.AssetByPlaybackID(r.PlaybackID)
			asset = &a
			return err
		} else if err != nil {
			return err
		}
		if st.CurrentSessionID != "" {
			if sess, err := tx.Session(st.CurrentSessionID); err == nil {
				origin = sess.EdgeID
				if e, err := tx.Edge(origin); err == nil {
					originURL = e.HLSURL
				}
			}
		}
		return nil
	}); err != nil {
		return nil, &protocol.Error{Code: protocol.CodeNotFound, Message: "unknown playback id"}
	}
	if asset != nil {
		keys, err := s.signingKeys(asset.OrgID)
		if err != nil {
			return nil, err
		}
		return protocol.PlaybackInfoReply{OrgID: asset.OrgID, PlaybackPolicy: asset.PlaybackPolicy, SigningKeys: keys,
			Asset: &protocol.AssetPlayback{ID: asset.ID, Prefix: asset.ObjectPrefix, Ready: asset.Status == state.AssetReady,
				SourceKey: asset.SourceKey, Duration: asset.Duration}}, nil
	}
	keys, err := s.signingKeys(st.OrgID)
	if err != nil {
		return nil, err
	}
	return protocol.PlaybackInfoReply{StreamID: st.ID, OrgID: st.OrgID, PlaybackPolicy: st.PlaybackPolicy,
		OriginNodeID: origin, OriginHLSURL: originURL, Live: st.Status == state.StreamActive, SigningKeys: keys}, nil
}
