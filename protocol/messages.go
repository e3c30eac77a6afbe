package protocol

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	"github.com/livestreams/livestreams/shared/pki"
)

// ALPN is the TLS application protocol of this package's QUIC connections.
const ALPN = pki.ALPN

// ServerName is the name on every control-plane certificate.
const ServerName = pki.ControlServerName

// Message types of version 1. The set is open: a receiver answers types it
// does not know with CodeUnknownType.
const (
	TypeHello            = "hello"
	TypeAuthorizePublish = "authorize_publish"
	TypeSessionStarted   = "session_started"
	TypeSessionEnded     = "session_ended"
	TypeHeartbeat        = "heartbeat"
	TypePlaybackInfo     = "playback_info"
)

// Ingest protocols in AuthorizePublishRequest.Protocol.
const (
	IngestRTMP  = "rtmp"
	IngestRTMPS = "rtmps"
	IngestSRT   = "srt"
	IngestWHIP  = "whip"
)

// Playback policies in StreamInfo and PlaybackInfoReply.
const (
	PlaybackPublic = "public"
	PlaybackSigned = "signed"
)

// Latency modes in StreamInfo.
const (
	LatencyStandard = "standard"
	LatencyLow      = "low"
)

// redacted replaces secrets in String and LogValue output.
const redacted = "[redacted]"

// Hello opens every connection: who the edge is, where it can be reached,
// and the join token that authenticates it. The server hands the
// authenticated Hello to every handler call (see Peer) with JoinToken
// cleared.
//
// The ingest URLs say which ingest endpoints the edge offers, each at its
// public address; an empty (absent) one is not offered, so an edge or a
// control plane of an earlier release, which knows fewer of them, still
// talks to this one. RTMPURL and RTMPSURL are bases a stream key is
// appended to (rtmp://host:1935/live, rtmps://host:1936/live); SRTURL is
// srt://host:port (the key travels in the streamid); WHIPURL is the WHIP
// endpoint's base (https://host/whip), POSTed to with the key as a bearer
// token.
type Hello struct {
	NodeID   string  `json:"node_id"`
	Region   string  `json:"region,omitempty"`
	Version  string  `json:"version,omitempty"`
	RTMPURL  string  `json:"rtmp_url,omitempty"`
	RTMPSURL string  `json:"rtmps_url,omitempty"`
	HLSURL   string  `json:"hls_url,omitempty"`
	SRTURL   string  `json:"srt_url,omitempty"`
	WHIPURL  string  `json:"whip_url,omitempty"`
	Lat      float64 `json:"lat,omitempty"`
	Lon      float64 `json:"lon,omitempty"`
	// JoinToken is how edges of earlier releases authenticated; a control
	// plane now refuses a hello without a certificate (see TypeJoin).
	JoinToken string `json:"join_token,omitempty"`
	// Certificate is the verified client certificate of the connection,
	// set by the Server (never sent): who the edge is.
	Certificate *x509.Certificate `json:"-"`
}

// String formats the hello without its join token.
func (h Hello) String() string {
	type plain Hello
	if h.JoinToken != "" {
		h.JoinToken = redacted
	}
	h.Certificate = nil
	return fmt.Sprintf("%+v", plain(h))
}

// LogValue keeps the join token out of structured logs.
func (h Hello) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("node_id", h.NodeID),
		slog.String("region", h.Region),
		slog.String("version", h.Version),
	)
}

// HelloReply accepts an edge: which cluster and control-plane node it
// reached, how often to send heartbeats, and how long its lease lasts
// without one.
type HelloReply struct {
	ClusterID           string `json:"cluster_id"`
	NodeID              string `json:"node_id"`
	HeartbeatIntervalMS int64  `json:"heartbeat_interval_ms"`
	LeaseTTLMS          int64  `json:"lease_ttl_ms"`
	// CABundlePEM is the set of CAs the edge is to trust for the control
	// plane from now on (it changes when the cluster CA rotates).
	CABundlePEM string `json:"ca_bundle_pem,omitempty"`
	// RenewCertificate asks the edge to renew its certificate now (it is
	// old, or from a CA being retired) and reconnect with the new one.
	RenewCertificate bool `json:"renew_certificate,omitempty"`
}

// HeartbeatInterval is HeartbeatIntervalMS as a duration.
func (r HelloReply) HeartbeatInterval() time.Duration {
	return time.Duration(r.HeartbeatIntervalMS) * time.Millisecond
}

// LeaseTTL is LeaseTTLMS as a duration.
func (r HelloReply) LeaseTTL() time.Duration { return time.Duration(r.LeaseTTLMS) * time.Millisecond }

// AuthorizePublishRequest asks whether a publisher may go live with a
// stream key. Refusals are CodeForbidden (unknown, disabled or reset key)
// and CodeConflict (the stream is already live).
type AuthorizePublishRequest struct {
	StreamKey  string `json:"stream_key"`
	Protocol   string `json:"protocol"` // IngestRTMP, IngestRTMPS, IngestSRT or IngestWHIP
	RemoteAddr string `json:"remote_addr,omitempty"`
}

// String formats the request without its stream key.
func (r AuthorizePublishRequest) String() string {
	type plain AuthorizePublishRequest
	if r.StreamKey != "" {
		r.StreamKey = redacted
	}
	return fmt.Sprintf("%+v", plain(r))
}

// LogValue keeps the stream key out of structured logs.
func (r AuthorizePublishRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("protocol", r.Protocol), slog.String("remote_addr", r.RemoteAddr))
}

// AuthorizePublishReply admits a publish: the session it opened, the
// stream's settings, and the keys that verify its playback tokens.
type AuthorizePublishReply struct {
	SessionID   string       `json:"session_id"`
	Stream      StreamInfo   `json:"stream"`
	SigningKeys []SigningKey `json:"signing_keys"`
}

// StreamInfo is what an edge needs to know about a stream to serve it.
type StreamInfo struct {
	ID             string `json:"id"`
	OrgID          string `json:"org_id"`
	Name           string `json:"name"`
	PlaybackID     string `json:"playback_id"`
	PlaybackPolicy string `json:"playback_policy"` // PlaybackPublic or PlaybackSigned
	Recording      bool   `json:"recording"`
	LatencyMode    string `json:"latency_mode"` // LatencyStandard or LatencyLow
	// DVRWindow is how many seconds of the session its live playlists
	// list; 0 is the edge's default.
	DVRWindow int `json:"dvr_window,omitempty"`
	// SRTPassphrase, when set, is the passphrase an SRT publisher must
	// encrypt with (10 to 79 characters); "" admits SRT unencrypted. It
	// is a secret: it travels only on this mTLS channel and in no log.
	SRTPassphrase string `json:"srt_passphrase,omitempty"`
}

// String formats the stream without its SRT passphrase.
func (s StreamInfo) String() string {
	type plain StreamInfo
	if s.SRTPassphrase != "" {
		s.SRTPassphrase = redacted
	}
	return fmt.Sprintf("%+v", plain(s))
}

// LogValue keeps the SRT passphrase out of structured logs.
func (s StreamInfo) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", s.ID), slog.String("playback_id", s.PlaybackID))
}

// SigningKey is the public half of an org's playback signing key.
type SigningKey struct {
	ID        string `json:"id"`
	PublicPEM string `json:"public_pem"`
}

// SessionStarted reports that media is flowing for an authorized session
// and what the source looks like. The reply body is empty.
type SessionStarted struct {
	SessionID string     `json:"session_id"`
	StreamID  string     `json:"stream_id"`
	Source    SourceInfo `json:"source"`
}

// SourceInfo describes the publisher's media as the edge probed it.
type SourceInfo struct {
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FPS        float64 `json:"fps"`
	HasAudio   bool    `json:"has_audio"`
	HasVideo   bool    `json:"has_video"`
	VideoCodec string  `json:"video_codec,omitempty"`
	AudioCodec string  `json:"audio_codec,omitempty"`
}

// SessionEnded reports that a session is over, why, and the recording it
// left on the edge (RecordingPath is "" when none was kept). The reply body
// is empty.
type SessionEnded struct {
	SessionID      string `json:"session_id"`
	Reason         string `json:"reason"`
	RecordingPath  string `json:"recording_path,omitempty"`
	RecordingBytes int64  `json:"recording_bytes,omitempty"`
}

// Heartbeat renews an edge's lease and lists the sessions it is serving so
// the control plane can reconcile them.
type Heartbeat struct {
	NodeID   string   `json:"node_id"`
	Sessions []string `json:"sessions"`
	Load     Load     `json:"load"`
}

// Load is an edge's current load.
type Load struct {
	CPU        float64 `json:"cpu"` // 0..1 of all cores
	Transcodes int     `json:"transcodes"`
	Viewers    int     `json:"viewers"`
	EgressBPS  int64   `json:"egress_bps"`
}

// HeartbeatReply gives the lease's new lifetime and the sessions the edge
// must stop (the stream was disabled, or the control plane already closed
// them).
type HeartbeatReply struct {
	LeaseTTLMS     int64    `json:"lease_ttl_ms"`
	CancelSessions []string `json:"cancel_sessions,omitempty"`
	// Drain orders the edge to take no new publishes or viewers and to
	// finish what runs (an operator's `livestreams node drain`).
	Drain bool `json:"drain,omitempty"`
	// CABundlePEM and RenewCertificate are as in HelloReply, sent while a
	// CA rotation runs or the edge's certificate is due, so a connected
	// edge need not wait for its next connection.
	CABundlePEM      string `json:"ca_bundle_pem,omitempty"`
	RenewCertificate bool   `json:"renew_certificate,omitempty"`
}

// LeaseTTL is LeaseTTLMS as a duration.
func (r HeartbeatReply) LeaseTTL() time.Duration {
	return time.Duration(r.LeaseTTLMS) * time.Millisecond
}

// PlaybackInfoRequest asks how to serve a playback id, for an edge asked
// for a stream it has not seen. Unknown ids are CodeNotFound.
type PlaybackInfoRequest struct {
	PlaybackID string `json:"playback_id"`
}

// PlaybackInfoReply says whose stream a playback id is, how it is
// protected, whether it is live and on which edge it originates.
type PlaybackInfoReply struct {
	StreamID       string `json:"stream_id"`
	OrgID          string `json:"org_id"`
	PlaybackPolicy string `json:"playback_policy"`
	OriginNodeID   string `json:"origin_node_id,omitempty"`
	// OriginHLSURL is the origin edge's public URL as that edge registered
	// it over its own authenticated connection: what a relaying edge
	// fetches from, whatever gossip says.
	OriginHLSURL string       `json:"origin_hls_url,omitempty"`
	Live         bool         `json:"live"`
	SigningKeys  []SigningKey `json:"signing_keys"`
	// Asset is set when the playback id is an on-demand asset's (StreamID
	// is then empty).
	Asset *AssetPlayback `json:"asset,omitempty"`
}
