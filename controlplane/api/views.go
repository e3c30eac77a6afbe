package api

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
)

// The API's views of state records. State types serialize every field for
// storage; these choose what a client may see, so a password hash, a key
// hash, a sealed stream key or a private key can only leave the server
// through a field written here on purpose.

type userView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
}

func viewUser(u state.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, Admin: u.Admin, CreatedAt: u.CreatedAt}
}

type orgView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func viewOrg(o state.Org) orgView { return orgView{ID: o.ID, Name: o.Name, CreatedAt: o.CreatedAt} }

type memberView struct {
	UserID    string     `json:"user_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      state.Role `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
}

func viewMember(m state.Member, u state.User) memberView {
	return memberView{UserID: m.UserID, Email: u.Email, Name: u.Name, Role: m.Role, CreatedAt: m.CreatedAt}
}

type apiKeyView struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Prefix       string     `json:"prefix"`
	Role         state.Role `json:"role"`
	OrgID        string     `json:"org_id"`
	ClusterAdmin bool       `json:"cluster_admin"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
}

func viewAPIKey(k state.APIKey) apiKeyView {
	return apiKeyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Role: k.Role, OrgID: k.OrgID,
		ClusterAdmin: k.ClusterAdmin, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

type sourceView struct {
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FPS        float64 `json:"fps"`
	HasAudio   bool    `json:"has_audio"`
	HasVideo   bool    `json:"has_video"`
	VideoCodec string  `json:"video_codec"`
	AudioCodec string  `json:"audio_codec"`
}

type sessionView struct {
	ID        string      `json:"id"`
	StreamID  string      `json:"stream_id"`
	EdgeID    string      `json:"edge_id"`
	Protocol  string      `json:"protocol"`
	StartedAt time.Time   `json:"started_at"`
	EndedAt   *time.Time  `json:"ended_at,omitempty"`
	EndReason string      `json:"end_reason,omitempty"`
	Source    *sourceView `json:"source,omitempty"`
}

func viewSession(s state.Session) sessionView {
	v := sessionView{ID: s.ID, StreamID: s.StreamID, EdgeID: s.EdgeID, Protocol: s.Protocol,
		StartedAt: s.StartedAt, EndedAt: s.EndedAt, EndReason: s.EndReason}
	if src := s.Source; src != nil {
		v.Source = &sourceView{Width: src.Width, Height: src.Height, FPS: src.FPS, HasAudio: src.HasAudio,
			HasVideo: src.HasVideo, VideoCodec: src.VideoCodec, AudioCodec: src.AudioCodec}
	}
	return v
}

type streamView struct {
	ID             string       `json:"id"`
	OrgID          string       `json:"org_id"`
	Name           string       `json:"name"`
	PlaybackID     string       `json:"playback_id"`
	PlaybackPolicy string       `json:"playback_policy"`
	Recording      bool         `json:"recording"`
	LatencyMode    string       `json:"latency_mode"`
	Disabled       bool         `json:"disabled"`
	Status         string       `json:"status" enum:"idle,active"`
	CurrentSession *sessionView `json:"current_session"`
	IngestURL      string       `json:"ingest_url"`
	PlaybackURL    string       `json:"playback_url"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`
}

// createdStream is the create answer: the only view with the key besides
// the key routes themselves.
type createdStream struct {
	streamView
	StreamKey string `json:"stream_key"`
}

type streamKeyView struct {
	StreamKey string `json:"stream_key"`
}

type signingKeyView struct {
	ID        string     `json:"id"`
	PublicPEM string     `json:"public_pem"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	CanMint   bool       `json:"can_mint"`
}

func viewSigningKey(k state.SigningKey) signingKeyView {
	return signingKeyView{ID: k.ID, PublicPEM: k.PublicPEM, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt,
		CanMint: k.PrivatePEM != "" && k.RevokedAt == nil}
}

type trackView struct {
	Type       string  `json:"type" enum:"video,audio"`
	Codec      string  `json:"codec,omitempty"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FPS        float64 `json:"fps,omitempty"`
	Channels   int     `json:"channels,omitempty"`
	SampleRate int     `json:"sample_rate,omitempty"`
}

type renditionView struct {
	Name      string `json:"name"`
	Width     int    `json:"width,omitempty"`
	Height    int    `json:"height,omitempty"`
	Bandwidth int    `json:"bandwidth"`
}

// assetView shows an asset; where its objects are stored stays inside.
type assetView struct {
	ID             string          `json:"id"`
	OrgID          string          `json:"org_id"`
	Type           string          `json:"type" enum:"recording,upload,clip"`
	Status         string          `json:"status" enum:"preparing,ready,errored"`
	StreamID       string          `json:"stream_id,omitempty"`
	SessionID      string          `json:"session_id,omitempty"`
	SourceAssetID  string          `json:"source_asset_id,omitempty"`
	PlaybackID     string          `json:"playback_id"`
	PlaybackPolicy string          `json:"playback_policy"`
	Duration       float64         `json:"duration"`
	Size           int64           `json:"size"`
	Tracks         []trackView     `json:"tracks"`
	Renditions     []renditionView `json:"renditions"`
	// Progress is the percent done of the job preparing the asset.
	Progress float64 `json:"progress"`
	// Job is the asset's latest job: the one preparing it, or the last
	// one that did.
	Job       *assetJobView `json:"job"`
	Error     string        `json:"error,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	ReadyAt   *time.Time    `json:"ready_at"`
	// The URLs are set once the asset is ready (the storyboard's when it
	// has one).
	PlaybackURL   string `json:"playback_url,omitempty"`
	ThumbnailURL  string `json:"thumbnail_url,omitempty"`
	StoryboardURL string `json:"storyboard_url,omitempty"`
}

type assetJobView struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	State    string       `json:"state" enum:"queued,leased,running,succeeded,failed,cancelled"`
	Progress progressView `json:"progress"`
}

type progressView struct {
	Percent float64 `json:"percent"`
	FPS     float64 `json:"fps"`
	Speed   float64 `json:"speed"`
}

// viewAsset renders a with its latest job (nil for none); base is the
// public URL playback URLs are built on.
func viewAsset(a state.Asset, latest *state.Job, base string) assetView {
	v := assetView{ID: a.ID, OrgID: a.OrgID, Type: a.Type, Status: a.Status, StreamID: a.StreamID, SessionID: a.SessionID,
		SourceAssetID: a.SourceAssetID, PlaybackID: a.PlaybackID, PlaybackPolicy: a.PlaybackPolicy, Duration: a.Duration,
		Size: a.Size, Tracks: []trackView{}, Renditions: []renditionView{}, Progress: a.Progress, Error: a.Error,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, ReadyAt: a.ReadyAt}
	for _, t := range a.Tracks {
		v.Tracks = append(v.Tracks, trackView{Type: t.Type, Codec: t.Codec, Width: t.Width, Height: t.Height, FPS: t.FPS,
			Channels: t.Channels, SampleRate: t.SampleRate})
	}
	for _, r := range a.Renditions {
		v.Renditions = append(v.Renditions, renditionView{Name: r.Name, Width: r.Width, Height: r.Height, Bandwidth: r.Bandwidth})
	}
	if j := latest; j != nil {
		v.Job = &assetJobView{ID: j.ID, Type: j.Type, State: j.State,
			Progress: progressView{Percent: j.Progress.Percent, FPS: j.Progress.FPS, Speed: j.Progress.Speed}}
	}
	if a.Status == state.AssetReady {
		play := base + "/v1/play/" + url.PathEscape(a.PlaybackID)
		v.PlaybackURL, v.ThumbnailURL = play+".m3u8", play+"/thumbnail.jpg"
		if a.Storyboard != nil {
			v.StoryboardURL = play + "/storyboard.vtt"
		}
	}
	return v
}

// jobView shows a job. Its payload is shown only for the media types,
// whose payloads are object keys and numbers: a payload of another type
// (a restream target URL with its key) may hold a secret.
type jobView struct {
	ID              string          `json:"id"`
	OrgID           string          `json:"org_id"`
	Type            string          `json:"type"`
	State           string          `json:"state" enum:"queued,leased,running,succeeded,failed,cancelled"`
	Attempts        int             `json:"attempts"`
	MaxAttempts     int             `json:"max_attempts"`
	LastError       string          `json:"last_error,omitempty"`
	History         []attemptView   `json:"history"`
	LeaseHolder     string          `json:"lease_holder,omitempty"`
	LeaseExpiresAt  *time.Time      `json:"lease_expires_at"`
	QueuedAt        time.Time       `json:"queued_at"`
	NotBefore       *time.Time      `json:"not_before"`
	Region          string          `json:"region,omitempty"`
	Progress        progressView    `json:"progress"`
	AssetID         string          `json:"asset_id,omitempty"`
	StreamID        string          `json:"stream_id,omitempty"`
	SessionID       string          `json:"session_id,omitempty"`
	Payload         *jobPayloadView `json:"payload,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	CancelRequested bool            `json:"cancel_requested"`
}

type attemptView struct {
	Edge      string     `json:"edge"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Error     string     `json:"error,omitempty"`
}

// jobPayloadView is the input of a vod, recording-vod or clip job
// (protocol.VODJob, protocol.ClipJob), field by field.
type jobPayloadView struct {
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

func viewJob(j state.Job) jobView {
	v := jobView{ID: j.ID, OrgID: j.OrgID, Type: j.Type, State: j.State, Attempts: j.Attempts, MaxAttempts: j.MaxAttempts,
		LastError: j.LastError, History: []attemptView{}, LeaseHolder: j.LeaseHolder, QueuedAt: j.QueuedAt,
		Region: j.Region, Progress: progressView{Percent: j.Progress.Percent, FPS: j.Progress.FPS, Speed: j.Progress.Speed},
		AssetID: j.AssetID, StreamID: j.StreamID, SessionID: j.SessionID, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
		FinishedAt: j.FinishedAt, CancelRequested: j.CancelRequested}
	for _, a := range j.History {
		v.History = append(v.History, attemptView{Edge: a.Edge, StartedAt: a.StartedAt, EndedAt: a.EndedAt, Error: a.Error})
	}
	if !j.LeaseExpiresAt.IsZero() {
		t := j.LeaseExpiresAt
		v.LeaseExpiresAt = &t
	}
	if j.NotBefore.After(j.QueuedAt) {
		t := j.NotBefore
		v.NotBefore = &t
	}
	switch j.Type {
	case state.JobVOD, state.JobRecordingVOD, state.JobClip:
		var p jobPayloadView
		if json.Unmarshal(j.Payload, &p) == nil {
			v.Payload = &p
		}
	}
	return v
}

// page is the shape of a paginated list: the items, newest first, and the
// cursor of the next page ("" on the last).
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// Input checks shared by several routes.

// Page sizes of the paginated lists.
const (
	defaultPageSize = jobs.DefaultPageSize
	maxPageSize     = jobs.MaxPageSize
	maxCursorLen    = 256
)

// pageParams reads ?limit= and ?cursor=.
func pageParams(r *http.Request) (limit int, cursor string, err error) {
	q := r.URL.Query()
	limit = defaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return 0, "", invalid("limit must be a whole number from 1 to %d", maxPageSize)
		}
		limit = n
	}
	cursor = q.Get("cursor")
	if len(cursor) > maxCursorLen {
		return 0, "", invalid("cursor is not one this API returned")
	}
	return limit, cursor, nil
}

const maxNameLen = 200

// cleanName trims a display name and checks it is 1 to 200 printable
// characters.
func cleanName(field, s string, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return "", invalid("%s is required", field)
		}
		return "", nil
	}
	if len([]rune(s)) > maxNameLen {
		return "", invalid("%s must be at most %d characters", field, maxNameLen)
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return "", invalid("%s must not contain control characters", field)
		}
	}
	return s, nil
}

// cleanEmail checks a bare address (no display name) and normalizes it.
func cleanEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("email is required")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > 254 {
		return "", invalid("email must be a plain address such as you@example.com")
	}
	return state.NormalizeEmail(s), nil
}

// parseRole reads a role name; "" gives def.
func parseRole(s string, def state.Role) (state.Role, error) {
	if s == "" {
		return def, nil
	}
	r := state.Role(s)
	if !r.Valid() {
		return "", invalid("role must be owner, admin, member or viewer, not %q", s)
	}
	return r, nil
}

// sortByTime orders a list oldest first by the time key gives, then by its
// id, so every list the API returns has a stable order.
func sortByTime[T any](s []T, key func(T) (time.Time, string)) {
	slices.SortFunc(s, func(a, b T) int {
		ta, ia := key(a)
		tb, ib := key(b)
		return cmp.Or(ta.Compare(tb), cmp.Compare(ia, ib))
	})
}
