package state

import "time"

// Asset types.
const (
	AssetRecording = "recording" // a live session's recording
	AssetUpload    = "upload"    // a file a creator uploaded
	AssetClip      = "clip"      // a range cut from another asset or a live stream
)

// Asset statuses.
const (
	AssetPreparing = "preparing"
	AssetReady     = "ready"
	AssetErrored   = "errored"
)

// Asset is a piece of on-demand media in object storage: its source, its
// renditions, its poster and storyboard, and the playback id viewers use.
type Asset struct {
	ID             string `json:"id"`
	OrgID          string `json:"org_id"`
	Type           string `json:"type"`
	StreamID       string `json:"stream_id,omitempty"`
	SessionID      string `json:"session_id,omitempty"`
	SourceAssetID  string `json:"source_asset_id,omitempty"`
	Status         string `json:"status"`
	PlaybackID     string `json:"playback_id"`
	PlaybackPolicy string `json:"playback_policy"`

	Duration   float64     `json:"duration,omitempty"` // seconds
	Size       int64       `json:"size,omitempty"`     // bytes of the source
	SHA256     string      `json:"sha256,omitempty"`   // of the source, hex
	Tracks     []Track     `json:"tracks,omitempty"`
	Renditions []Rendition `json:"renditions,omitempty"`

	// ObjectPrefix is where everything the asset owns is stored
	// (objstore.AssetPrefix); the keys below are relative to the bucket.
	ObjectPrefix string      `json:"object_prefix,omitempty"`
	SourceKey    string      `json:"source_key,omitempty"`
	Thumbnail    string      `json:"thumbnail,omitempty"`
	Storyboard   *Storyboard `json:"storyboard,omitempty"`

	Error    string  `json:"error,omitempty"`
	Progress float64 `json:"progress"` // percent of the preparing job

	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ReadyAt   *time.Time `json:"ready_at,omitempty"`
}

// Track is one elementary stream of an asset's source.
type Track struct {
	Type       string  `json:"type"` // video or audio
	Codec      string  `json:"codec,omitempty"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FPS        float64 `json:"fps,omitempty"`
	Channels   int     `json:"channels,omitempty"`
	SampleRate int     `json:"sample_rate,omitempty"`
}

// Rendition is one rung of an asset's HLS ladder.
type Rendition struct {
	Name      string `json:"name"`
	Width     int    `json:"width,omitempty"`
	Height    int    `json:"height,omitempty"`
	Bandwidth int    `json:"bandwidth"` // bits per second, as in EXT-X-STREAM-INF
}

// Storyboard is a seek-preview sprite sheet and the WebVTT cues into it.
type Storyboard struct {
	Image string `json:"image"`
	VTT   string `json:"vtt"`
}

// Asset returns one asset.
func (t *Tx) Asset(id string) (Asset, error) {
	var a Asset
	ok, err := t.get(bAssets, id, &a)
	if err == nil && !ok {
		err = NotFound("asset %s", id)
	}
	return a, err
}

// AssetByPlaybackID finds an asset by its playback id. Streams and assets
// share one namespace of playback ids: /v1/play/{id} looks up a stream
// (StreamByPlaybackID) and then an asset.
func (t *Tx) AssetByPlaybackID(pid string) (Asset, error) {
	id := t.getString(bAssetPlaybackIDs, pid)
	if id == "" {
		return Asset{}, NotFound("playback id %s", pid)
	}
	return t.Asset(id)
}

// Assets lists an org's assets newest first, a page at a time, as Jobs does.
func (t *Tx) Assets(orgID, after string, limit int, keep func(Asset) bool) (page []Asset, next string, err error) {
	return pageNewestFirst(t, bAssetsByOrg, orgID, after, limit, t.Asset, keep)
}

// PutAsset stores an asset and keeps its org and playback indexes current.
// A playback id a stream or another asset holds is a conflict.
func (t *Tx) PutAsset(a Asset) error {
	if a.ID == "" || a.OrgID == "" || a.PlaybackID == "" {
		return Invalid("asset needs an id, an org and a playback id")
	}
	if a.CreatedAt.Unix() <= 0 {
		return Invalid("asset needs a creation time")
	}
	var old Asset
	ok, err := t.get(bAssets, a.ID, &old)
	if err != nil {
		return err
	}
	if ok && (old.OrgID != a.OrgID || !old.CreatedAt.Equal(a.CreatedAt)) {
		return Invalid("asset %s: org and creation time are fixed", a.ID)
	}
	if owner := t.getString(bAssetPlaybackIDs, a.PlaybackID); owner != "" && owner != a.ID {
		return Conflict("playback id already in use")
	}
	if t.getString(bPlaybackIDs, a.PlaybackID) != "" {
		return Conflict("playback id already in use")
	}
	if ok && old.PlaybackID != a.PlaybackID {
		if err := t.del(bAssetPlaybackIDs, old.PlaybackID); err != nil {
			return err
		}
	}
	if err := t.putString(bAssetPlaybackIDs, a.PlaybackID, a.ID); err != nil {
		return err
	}
	if err := t.putString(bAssetsByOrg, a.OrgID+"/"+orderKey(a.CreatedAt, a.ID), ""); err != nil {
		return err
	}
	return t.put(bAssets, a.ID, a)
}

// DeleteAsset removes an asset and its indexes. Its jobs stay, as history.
func (t *Tx) DeleteAsset(id string) error {
	a, err := t.Asset(id)
	if err != nil {
		return err
	}
	if err := t.del(bAssetPlaybackIDs, a.PlaybackID); err != nil {
		return err
	}
	if err := t.del(bAssetsByOrg, a.OrgID+"/"+orderKey(a.CreatedAt, a.ID)); err != nil {
		return err
	}
	return t.del(bAssets, id)
}
