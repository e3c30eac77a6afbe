package state

import "time"

// Playback policies.
const (
	PolicyPublic = "public"
	PolicySigned = "signed"
)

// Latency modes.
const (
	LatencyStandard = "standard"
	LatencyLow      = "low"
)

// Stream statuses.
const (
	StreamIdle   = "idle"
	StreamActive = "active"
)

// Stream is a creator's channel: a stream key to publish with and a playback
// id to watch. The key itself is stored sealed; it is found by keyed hash.
type Stream struct {
	ID               string    `json:"id"`
	OrgID            string    `json:"org_id"`
	Name             string    `json:"name"`
	KeyHash          string    `json:"-"`
	KeySealed        string    `json:"-"`
	PlaybackID       string    `json:"playback_id"`
	PlaybackPolicy   string    `json:"playback_policy"`
	Recording        bool      `json:"recording"`
	LatencyMode      string    `json:"latency_mode"`
	Disabled         bool      `json:"disabled"`
	Status           string    `json:"status"`
	CurrentSessionID string    `json:"current_session_id,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
	KeyResetAt       time.Time `json:"key_reset_at"`
}

type streamRecord struct {
	Stream
	StoredKeyHash   string `json:"key_hash"`
	StoredKeySealed string `json:"key_sealed"`
}

func (r streamRecord) stream() Stream {
	s := r.Stream
	s.KeyHash, s.KeySealed = r.StoredKeyHash, r.StoredKeySealed
	return s
}

// Stream returns one stream.
func (t *Tx) Stream(id string) (Stream, error) {
	var r streamRecord
	ok, err := t.get(bStreams, id, &r)
	if err == nil && !ok {
		err = NotFound("stream %s", id)
	}
	return r.stream(), err
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
	err := scan(t, bStreams, "", func(r streamRecord) bool {
		if orgID == "" || r.OrgID == orgID {
			out = append(out, r.stream())
		}
		return true
	})
	return out, err
}

// PutStream stores a stream and keeps its key and playback indexes current.
func (t *Tx) PutStream(s Stream) error {
	var old streamRecord
	if ok, err := t.get(bStreams, s.ID, &old); err != nil {
		return err
	} else if ok && old.StoredKeyHash != s.KeyHash {
		t.del(bStreamKeys, old.StoredKeyHash)
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
	return t.put(bStreams, s.ID, streamRecord{Stream: s, StoredKeyHash: s.KeyHash, StoredKeySealed: s.KeySealed})
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
