package api

import (
	"cmp"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"

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

// Input checks shared by several routes.

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
