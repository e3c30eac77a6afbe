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

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
)

// The API's views of state records. State types serialize every field for
// storage; these choose what a client may see, so a password hash, a key
// hash, a sealed stream key or a private key can only leave the server
// through a field written here on purpose.
//
// The views are package client's types, which the Go client decodes: one
// declaration of each, so the two sides cannot drift. The names below are
// the ones the handlers and the route table use.
type (
	userView       = client.User
	orgView        = client.Org
	memberView     = client.Member
	apiKeyView     = client.APIKey
	sessionView    = client.Session
	sourceView     = client.Source
	streamView     = client.Stream
	createdStream  = client.StreamCreated
	streamKeyView  = client.StreamKey
	signingKeyView = client.SigningKey
	trackView      = client.Track
	renditionView  = client.Rendition
	assetView      = client.Asset
	assetJobView   = client.AssetJob
	progressView   = client.Progress
	jobView        = client.Job
	attemptView    = client.Attempt
	jobPayloadView = client.JobPayload
)

func viewUser(u state.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, Admin: u.Admin, CreatedAt: u.CreatedAt}
}

func viewOrg(o state.Org) orgView { return orgView{ID: o.ID, Name: o.Name, CreatedAt: o.CreatedAt} }

func viewMember(m state.Member, u state.User) memberView {
	return memberView{UserID: m.UserID, Email: u.Email, Name: u.Name, Role: string(m.Role), CreatedAt: m.CreatedAt}
}

func viewAPIKey(k state.APIKey) apiKeyView {
	return apiKeyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Role: string(k.Role), OrgID: k.OrgID,
		ClusterAdmin: k.ClusterAdmin, CreatedBy: k.Creator(), CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

func viewSession(s state.Session) sessionView {
	v := sessionView{ID: s.ID, StreamID: s.StreamID, EdgeID: s.EdgeID, Protocol: s.Protocol, RemoteAddr: s.RemoteAddr,
		StartedAt: s.StartedAt, EndedAt: s.EndedAt, EndReason: s.EndReason}
	if src := s.Source; src != nil {
		v.Source = &sourceView{Width: src.Width, Height: src.Height, FPS: src.FPS, HasAudio: src.HasAudio,
			HasVideo: src.HasVideo, VideoCodec: src.VideoCodec, AudioCodec: src.AudioCodec}
	}
	return v
}

func viewSigningKey(k state.SigningKey) signingKeyView {
	return signingKeyView{ID: k.ID, PublicPEM: k.PublicPEM, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt,
		CanMint: k.PrivatePEM != "" && k.RevokedAt == nil}
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
type page[T any] = client.Page[T]

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
