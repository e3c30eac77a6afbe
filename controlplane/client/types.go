package client

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/routing"
	"github.com/livestreams/livestreams/shared/geoip"
)

// The wire types of /v1, declared once: the API server encodes and decodes
// these very structs, so a field cannot be named one way on one side and
// another way on the other. Request types are named for what they ask
// (StreamCreate), answers for what they are (Stream). A request's optional
// fields are left out when empty and the server applies its default.
// Times are UTC.

// List is the shape of every collection that is not paginated.
type List[T any] struct {
	Items []T `json:"items"`
}

// Page is one page of a paginated collection: its items, newest first,
// and the cursor of the next page ("" on the last).
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// ErrorBody is the shape of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code" enum:"invalid,unauthorized,forbidden,not_found,conflict,too_large,rate_limited,unavailable,internal"`
		Message string `json:"message"`
	} `json:"error"`
}

// Health is the answer of /healthz and /readyz.
type Health struct {
	Status string `json:"status" enum:"ok,ready"`
}

// Auth.

type Signup struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name,omitempty"`
	OrgName  string `json:"org_name,omitempty"`
	// SetupToken makes the first user the owner and a cluster admin.
	SetupToken string `json:"setup_token,omitempty"`
}

type SignupResult struct {
	User  User   `json:"user"`
	Org   Org    `json:"org"`
	Token string `json:"token"`
}

type Login struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type LoginResult struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      User      `json:"user"`
}

// Me is who the caller is, the org it acts in and its role there.
type Me struct {
	User         *User   `json:"user,omitempty"`
	APIKey       *APIKey `json:"api_key,omitempty"`
	OrgID        string  `json:"org_id"`
	Role         string  `json:"role"`
	ClusterAdmin bool    `json:"cluster_admin"`
	Orgs         []MeOrg `json:"orgs"`
}

type MeOrg struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// Users, orgs and members.

type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
}

type UserCreate struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name,omitempty"`
	// OrgID and Role make the new user a member of that org.
	OrgID string `json:"org_id,omitempty"`
	Role  string `json:"role,omitempty"`
}

type Org struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type OrgCreate struct {
	Name string `json:"name"`
}

type Member struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

type MemberPut struct {
	Role string `json:"role"`
}

// API keys.

type APIKey struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Prefix       string `json:"prefix"`
	Role         string `json:"role"`
	OrgID        string `json:"org_id"`
	ClusterAdmin bool   `json:"cluster_admin"`
	// CreatedBy is the user the key's power derives from (its creator,
	// or the creator of the key that made it): the key can do at most
	// what that user can in the org now, and dies when they leave it.
	CreatedBy  string     `json:"created_by,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

type APIKeyCreate struct {
	Name         string `json:"name"`
	Role         string `json:"role,omitempty"`
	ClusterAdmin bool   `json:"cluster_admin,omitempty"`
}

// APIKeyCreated is the create answer, the only time the key is shown.
type APIKeyCreated struct {
	APIKey
	Key string `json:"key"`
}

// Streams and their sessions.

type Stream struct {
	ID             string `json:"id"`
	OrgID          string `json:"org_id"`
	Name           string `json:"name"`
	PlaybackID     string `json:"playback_id"`
	PlaybackPolicy string `json:"playback_policy"`
	Recording      bool   `json:"recording"`
	LatencyMode    string `json:"latency_mode"`
	// DVRWindow is how many seconds of a live session its playlists list
	// (0 = the edge's default, a few minutes).
	DVRWindow int  `json:"dvr_window"`
	Disabled  bool `json:"disabled"`
	// AutoCaptions captions each recording in CaptionsLanguage once it is
	// ready.
	AutoCaptions     bool   `json:"auto_captions"`
	CaptionsLanguage string `json:"captions_language,omitempty"`
	// SRTPassphraseSet says SRT publishers must encrypt with the stream's
	// passphrase; the passphrase itself is only in Ingest.
	SRTPassphraseSet bool      `json:"srt_passphrase_set"`
	Status           string    `json:"status" enum:"idle,active"`
	CurrentSession   *Session  `json:"current_session"`
	IngestURL        string    `json:"ingest_url"`
	PlaybackURL      string    `json:"playback_url"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// StreamCreated is the create answer: the only stream view with the key
// besides the key routes themselves.
type StreamCreated struct {
	Stream
	StreamKey string `json:"stream_key"`
}

type StreamCreate struct {
	Name           string `json:"name"`
	PlaybackPolicy string `json:"playback_policy,omitempty"`
	// Recording nil means the server's default (on).
	Recording   *bool  `json:"recording,omitempty"`
	LatencyMode string `json:"latency_mode,omitempty"`
	// DVRWindow is 0 (the default) or 6 to 21600 seconds.
	DVRWindow int `json:"dvr_window,omitempty"`
	// AutoCaptions needs CaptionsLanguage (a tag such as en or pt-BR).
	AutoCaptions     bool   `json:"auto_captions,omitempty"`
	CaptionsLanguage string `json:"captions_language,omitempty"`
	// SRTPassphrase, 10 to 79 characters, makes SRT publishers encrypt
	// with it (AES); "" is none. It is not shown again but in Ingest.
	SRTPassphrase string `json:"srt_passphrase,omitempty"`
}

// StreamUpdate changes the fields that are not nil.
type StreamUpdate struct {
	Name             *string `json:"name,omitempty"`
	PlaybackPolicy   *string `json:"playback_policy,omitempty"`
	Recording        *bool   `json:"recording,omitempty"`
	LatencyMode      *string `json:"latency_mode,omitempty"`
	DVRWindow        *int    `json:"dvr_window,omitempty"`
	Disabled         *bool   `json:"disabled,omitempty"`
	AutoCaptions     *bool   `json:"auto_captions,omitempty"`
	CaptionsLanguage *string `json:"captions_language,omitempty"`
	// SRTPassphrase sets the SRT passphrase; "" removes it.
	SRTPassphrase *string `json:"srt_passphrase,omitempty"`
}

type StreamKey struct {
	StreamKey string `json:"stream_key"`
}

type Session struct {
	ID       string `json:"id"`
	StreamID string `json:"stream_id"`
	EdgeID   string `json:"edge_id"`
	Protocol string `json:"protocol"`
	// RemoteAddr is the publisher's address as the edge saw it (for a
	// WHIP publish through the control plane's proxy, the proxy's).
	RemoteAddr string     `json:"remote_addr,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	EndReason  string     `json:"end_reason,omitempty"`
	Source     *Source    `json:"source,omitempty"`
}

// Source is what the encoder sends, as the edge probed it.
type Source struct {
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FPS        float64 `json:"fps"`
	HasAudio   bool    `json:"has_audio"`
	HasVideo   bool    `json:"has_video"`
	VideoCodec string  `json:"video_codec"`
	AudioCodec string  `json:"audio_codec"`
}

// Ingest is where an encoder publishes a stream: the edge nearest the
// creator and, for each protocol that edge offers (and only those), what
// to give the encoder. It carries the stream key, as GET …/key does.
type Ingest struct {
	EdgeID    string `json:"edge_id"`
	StreamKey string `json:"stream_key"`
	// RTMPURL is rtmp://host:port/live/KEY, for ffmpeg; RTMPServer is the
	// URL before the key, OBS's "Server" (its "Stream Key" is StreamKey).
	RTMPURL    string `json:"rtmp_url,omitempty"`
	RTMPServer string `json:"rtmp_server,omitempty"`
	// RTMPSURL and RTMPSServer are the same over TLS.
	RTMPSURL    string `json:"rtmps_url,omitempty"`
	RTMPSServer string `json:"rtmps_server,omitempty"`
	// SRTURL is srt://host:port?streamid=… with the streamid URL-encoded;
	// SRTStreamID is the streamid itself (#!::r=live/KEY,m=publish) for
	// encoders that take it in a field of its own.
	SRTURL      string `json:"srt_url,omitempty"`
	SRTStreamID string `json:"srt_streamid,omitempty"`
	// SRTPassphrase is the stream's SRT passphrase, when it has one, for
	// the encoder's passphrase field (ffmpeg: SRTURL+"&passphrase=…").
	SRTPassphrase string `json:"srt_passphrase,omitempty"`
	// WHIPURL is the edge's WHIP endpoint for the stream; the encoder
	// sends the key as Authorization: Bearer KEY (OBS: "Bearer Token").
	WHIPURL string `json:"whip_url,omitempty"`
}

// WHIPAnswer is the edge's answer to a WHIP offer the control plane
// relayed (Streams.WHIP): the SDP answer and the session's resource on the
// control plane, which DELETE ends.
type WHIPAnswer struct {
	SDP      string
	Location string // /v1/streams/{id}/whip/{resource}
	ETag     string
}

// Assets, uploads and clips.

// Asset is a recording, an upload or a clip; where its objects are stored
// stays inside the server.
type Asset struct {
	ID             string      `json:"id"`
	OrgID          string      `json:"org_id"`
	Type           string      `json:"type" enum:"recording,upload,clip"`
	Status         string      `json:"status" enum:"preparing,ready,errored"`
	StreamID       string      `json:"stream_id,omitempty"`
	SessionID      string      `json:"session_id,omitempty"`
	SourceAssetID  string      `json:"source_asset_id,omitempty"`
	PlaybackID     string      `json:"playback_id"`
	PlaybackPolicy string      `json:"playback_policy"`
	Duration       float64     `json:"duration"`
	Size           int64       `json:"size"`
	Tracks         []Track     `json:"tracks"`
	Renditions     []Rendition `json:"renditions"`
	// Progress is the percent done of the job preparing the asset.
	Progress float64 `json:"progress"`
	// Job is the asset's latest job: the one preparing it, or the last
	// one that did.
	Job       *AssetJob  `json:"job"`
	Error     string     `json:"error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ReadyAt   *time.Time `json:"ready_at"`
	// The URLs are set once the asset is ready (the storyboard's when it
	// has one).
	PlaybackURL   string `json:"playback_url,omitempty"`
	ThumbnailURL  string `json:"thumbnail_url,omitempty"`
	StoryboardURL string `json:"storyboard_url,omitempty"`
	// Captions are the asset's caption tracks, one a language, each as its
	// latest captions job left it.
	Captions []CaptionTrack `json:"captions"`
}

// CaptionTrack is an asset's captions in one language.
type CaptionTrack struct {
	Language string  `json:"language"`
	Status   string  `json:"status" enum:"queued,leased,running,succeeded,failed,cancelled"`
	JobID    string  `json:"job_id"`
	Progress float64 `json:"progress"`
	Error    string  `json:"error,omitempty"`
	// VTTURL is the whole WebVTT file (set once the track succeeded); the
	// HLS master playlist lists the track as a SUBTITLES rendition.
	VTTURL string `json:"vtt_url,omitempty"`
}

// CaptionsCreate asks for an asset's captions in Language (a tag such as
// en or pt-BR).
type CaptionsCreate struct {
	Language string `json:"language"`
}

type Track struct {
	Type       string  `json:"type" enum:"video,audio"`
	Codec      string  `json:"codec,omitempty"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FPS        float64 `json:"fps,omitempty"`
	Channels   int     `json:"channels,omitempty"`
	SampleRate int     `json:"sample_rate,omitempty"`
}

type Rendition struct {
	Name      string `json:"name"`
	Width     int    `json:"width,omitempty"`
	Height    int    `json:"height,omitempty"`
	Bandwidth int    `json:"bandwidth"`
}

// AssetJob is the short view of an asset's latest job.
type AssetJob struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	State    string   `json:"state" enum:"queued,leased,running,succeeded,failed,cancelled"`
	Progress Progress `json:"progress"`
}

type Progress struct {
	Percent float64 `json:"percent"`
	FPS     float64 `json:"fps"`
	Speed   float64 `json:"speed"`
}

// AssetUpdate changes the fields that are not nil.
type AssetUpdate struct {
	PlaybackPolicy *string `json:"playback_policy,omitempty"`
}

// ClipCreate cuts [Start, End) seconds of a ready asset.
type ClipCreate struct {
	Start          *float64 `json:"start"`
	End            *float64 `json:"end"`
	Reencode       bool     `json:"reencode,omitempty"`
	PlaybackPolicy string   `json:"playback_policy,omitempty"`
}

// Clip is the new clip asset and the job cutting it.
type Clip struct {
	Asset Asset `json:"asset"`
	Job   Job   `json:"job"`
}

type UploadCreate struct {
	PlaybackPolicy string `json:"playback_policy,omitempty"`
	// Size is the file's length in bytes (required): the upload URL takes
	// exactly that many bytes, and a file over the limit is refused before
	// it is sent.
	Size *int64 `json:"size,omitempty"`
}

// Upload is the new upload asset and where to send the file.
type Upload struct {
	Asset Asset `json:"asset"`
	// UploadURL takes one HTTP PUT of the file's bytes (exactly the
	// declared size, with Headers), without other credentials, until
	// ExpiresAt. A second PUT is refused.
	UploadURL string `json:"upload_url"`
	Method    string `json:"method" enum:"PUT"`
	// Headers must be sent with the PUT (such as If-None-Match: *, which
	// the URL's signature covers).
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
	MaxBytes  int64             `json:"max_bytes"`
}

// Jobs.

// Job is a media job. Its payload is shown only for the media types,
// whose payloads are object keys and numbers.
type Job struct {
	ID              string      `json:"id"`
	OrgID           string      `json:"org_id"`
	Type            string      `json:"type"`
	State           string      `json:"state" enum:"queued,leased,running,succeeded,failed,cancelled"`
	Attempts        int         `json:"attempts"`
	MaxAttempts     int         `json:"max_attempts"`
	LastError       string      `json:"last_error,omitempty"`
	History         []Attempt   `json:"history"`
	LeaseHolder     string      `json:"lease_holder,omitempty"`
	LeaseExpiresAt  *time.Time  `json:"lease_expires_at"`
	QueuedAt        time.Time   `json:"queued_at"`
	NotBefore       *time.Time  `json:"not_before"`
	Region          string      `json:"region,omitempty"`
	Progress        Progress    `json:"progress"`
	AssetID         string      `json:"asset_id,omitempty"`
	StreamID        string      `json:"stream_id,omitempty"`
	SessionID       string      `json:"session_id,omitempty"`
	Payload         *JobPayload `json:"payload,omitempty"`
	CreatedAt       time.Time   `json:"created_at"`
	UpdatedAt       time.Time   `json:"updated_at"`
	FinishedAt      *time.Time  `json:"finished_at"`
	CancelRequested bool        `json:"cancel_requested"`
}

// Attempt is one lease of a job by an edge.
type Attempt struct {
	Edge      string     `json:"edge"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Error     string     `json:"error,omitempty"`
}

// JobPayload is the input of a vod, recording-vod or clip job.
type JobPayload struct {
	SourceKey      string `json:"source_key,omitempty"`
	Prefix         string `json:"prefix,omitempty"`
	MaxSourceBytes int64  `json:"max_source_bytes,omitempty"`
	DeleteRejected bool   `json:"delete_rejected,omitempty"`
	// StoryboardInterval is seconds between storyboard tiles (0: chosen
	// from the duration).
	StoryboardInterval float64  `json:"storyboard_interval,omitempty"`
	Start              *float64 `json:"start,omitempty"`
	End                *float64 `json:"end,omitempty"`
	Reencode           bool     `json:"reencode,omitempty"`
}

// Signing keys and playback tokens.

type SigningKey struct {
	ID        string     `json:"id"`
	PublicPEM string     `json:"public_pem"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// CanMint says the server kept the private half and can mint tokens.
	CanMint bool `json:"can_mint"`
}

type SigningKeyCreate struct {
	// KeepPrivate nil means the server's default.
	KeepPrivate *bool `json:"keep_private,omitempty"`
}

// SigningKeyCreated is the create answer, the only time the private half
// is shown.
type SigningKeyCreated struct {
	SigningKey
	PrivatePEM string `json:"private_pem"`
}

type TokenMint struct {
	PlaybackID string `json:"playback_id"`
	// TTLSeconds nil means the server's default.
	TTLSeconds *int64 `json:"ttl_seconds,omitempty"`
}

type Token struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// The control-plane cluster.

type ClusterStatus struct {
	ClusterID         string        `json:"cluster_id"`
	LeaderID          string        `json:"leader_id"`
	Term              uint64        `json:"term"`
	LastIndex         uint64        `json:"last_index"`
	AppliedIndex      uint64        `json:"applied_index"`
	CommitIndex       uint64        `json:"commit_index"`
	LastSnapshotIndex uint64        `json:"last_snapshot_index"`
	Nodes             []ClusterNode `json:"nodes"`
}

type ClusterNode struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	State    string `json:"state" enum:"leader,follower,candidate"`
	Voter    bool   `json:"voter"`
	Healthy  bool   `json:"healthy"`
}

// ClusterMember is a control-plane node to add as a voter (the request and
// its answer).
type ClusterMember struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

type JoinTokenCreate struct {
	Description string `json:"description,omitempty"`
	// TTL is how long the token lasts, a Go duration ("1h", "15m"); the
	// default is one hour, the most seven days.
	TTL string `json:"ttl,omitempty"`
}

// JoinToken is a new join token; Token is its plaintext, shown only here.
type JoinToken struct {
	Token     string    `json:"token"`
	ID        string    `json:"id,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// The edge fleet and routing.

// Node is an edge as the control plane sees it.
type Node struct {
	ID             string       `json:"id"`
	State          string       `json:"state"`  // alive, suspect, dead, left, expired
	Source         string       `json:"source"` // gossip or lease
	Region         string       `json:"region,omitempty"`
	Lat            float64      `json:"lat"`
	Lon            float64      `json:"lon"`
	HasLocation    bool         `json:"has_location"`
	HLSURL         string       `json:"hls_url,omitempty"`
	RTMPURL        string       `json:"rtmp_url,omitempty"`
	RTMPSURL       string       `json:"rtmps_url,omitempty"`
	SRTURL         string       `json:"srt_url,omitempty"`
	WHIPURL        string       `json:"whip_url,omitempty"`
	Draining       bool         `json:"draining"`
	Load           routing.Load `json:"load"`
	Streams        []string     `json:"streams"`
	LeaseExpiresAt time.Time    `json:"lease_expires_at"`
}

// Route is where a viewer (or an encoder) is sent, and why.
type Route struct {
	EdgeID string `json:"edge_id"`
	// URL is the master playlist on the edge (playback) or the URL of
	// the ingest protocol asked for (ingest).
	URL    string           `json:"url"`
	RTMP   string           `json:"rtmp_url,omitempty"`
	RTMPS  string           `json:"rtmps_url,omitempty"`
	SRT    string           `json:"srt_url,omitempty"`
	WHIP   string           `json:"whip_url,omitempty"`
	Client RouteClient      `json:"client"`
	Scores []routing.Scored `json:"candidates"`
	Reason string           `json:"fallback,omitempty"`
}

// RouteClient is who was routed, as the GeoIP database saw them.
type RouteClient struct {
	IP       string          `json:"ip"`
	Known    bool            `json:"known"`
	Location *geoip.Location `json:"location,omitempty"`
}
