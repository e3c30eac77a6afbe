package state

import "time"

// Playback policies.
const (
	PolicyPublic = "public"
	PolicySigned = "signed"
)

// PlaybackPolicies lists the playback policies.
func PlaybackPolicies() []string { return []string{PolicyPublic, PolicySigned} }

// Latency modes.
const (
	LatencyStandard = "standard"
	LatencyLow      = "low"
)

// LatencyModes lists the latency modes.
func LatencyModes() []string { return []string{LatencyStandard, LatencyLow} }

// Bounds of a stream's DVR window, in seconds: a live playlist spans at
// least three 2 s segments and at most 6 hours.
const (
	MinDVRWindow = 6
	MaxDVRWindow = 6 * 3600
)

// Stream statuses.
const (
	StreamIdle   = "idle"
	StreamActive = "active"
)

// Stream is a creator's channel: a stream key to publish with and a playback
// id to watch. The key itself is stored sealed; it is found by keyed hash.
type Stream struct {
	ID             string `json:"id"`
	OrgID          string `json:"org_id"`
	Name           string `json:"name"`
	KeyHash        string `json:"key_hash"`
	KeySealed      string `json:"key_sealed"`
	PlaybackID     string `json:"playback_id"`
	PlaybackPolicy string `json:"playback_policy"`
	Recording      bool   `json:"recording"`
	LatencyMode    string `json:"latency_mode"`
	// DVRWindow is how many seconds of a live session its playlists list
	// (0 = the edge's default, else MinDVRWindow to MaxDVRWindow); the
	// recording keeps the whole session whatever it is.
	DVRWindow int `json:"dvr_window,omitempty"`
	// AutoCaptions queues a captions job in CaptionsLanguage for each of
	// the stream's recordings once it is ready.
	AutoCaptions     bool   `json:"auto_captions,omitempty"`
	CaptionsLanguage string `json:"captions_language,omitempty"`
	// SRTPassphraseSealed is the passphrase SRT publishers must encrypt
	// with, sealed like the key (streamkey.Seal, by the proposer); ""
	// is none.
	SRTPassphraseSealed string    `json:"srt_passphrase_sealed,omitempty"`
	Disabled            bool      `json:"disabled"`
	Status              string    `json:"status"`
	CurrentSessionID    string    `json:"current_session_id,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	KeyResetAt          time.Time `json:"key_reset_at"`
}

// Stream returns one stream.
func (t *Tx) Stream(id string) (Stream, error) {
	var s Stream
	ok, err := t.get(bStreams, id, &s)
	if err == nil && !ok {
		err = NotFound("stream %s", id)
	}
	return s, err
}

// StreamByKeyHash finds the stream whose key has this keyed hash.
func (t *Tx) StreamByKeyHash(hash string) (Stream, error) {
	id := t.getString(bStreamKeys, hash)
	if id == "" {
		return Stream{}, NotFound("stream")
	}
	return t.Stream(id)
}

// StreamByPlaybackID finds a stream by its playback id.
func (t *Tx) StreamByPlaybackID(pid string) (Stream, error) {
	id := t.getString(bPlaybackIDs, pid)
	if id == "" {
		return Stream{}, NotFound("playback id %s", pid)
	}
	return t.Stream(id)
}

// Streams lists an org's streams ("" lists all).
func (t *Tx) Streams(orgID string) ([]Stream, error) {
	var out []Stream
	err := scan(t, bStreams, "", func(s Stream) bool {
		if orgID == "" || s.OrgID == orgID {
			out = append(out, s)
		}
		return true
	})
	return out, err
}

// PutStream stores a stream and keeps its key and playback indexes current.
func (t *Tx) PutStream(s Stream) error {
	if s.KeyHash == "" || s.PlaybackID == "" {
		return Invalid("stream needs a key hash and a playback id")
	}
	var old Stream
	if ok, err := t.get(bStreams, s.ID, &old); err != nil {
		return err
	} else if ok && old.KeyHash != s.KeyHash {
		t.del(bStreamKeys, old.KeyHash)
	}
	if owner := t.getString(bPlaybackIDs, s.PlaybackID); owner != "" && owner != s.ID {
		return Conflict("playback id already in use")
	}
	if err := t.putString(bStreamKeys, s.KeyHash, s.ID); err != nil {
		return err
	}
	if err := t.putString(bPlaybackIDs, s.PlaybackID, s.ID); err != nil {
		return err
	}
	return t.put(bStreams, s.ID, s)
}

// DeleteStream removes a stream and its indexes.
func (t *Tx) DeleteStream(id string) error {
	s, err := t.Stream(id)
	if err != nil {
		return err
	}
	t.del(bStreamKeys, s.KeyHash)
	t.del(bPlaybackIDs, s.PlaybackID)
	return t.del(bStreams, id)
}
