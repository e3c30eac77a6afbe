package fsm

import (
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Asset command types.
const (
	CmdCreateAsset     = "create_asset"
	CmdUpdateAsset     = "update_asset"
	CmdDeleteAsset     = "delete_asset"
	CmdSetAssetReady   = "set_asset_ready"
	CmdSetAssetErrored = "set_asset_errored"
)

// CreateAsset registers an asset, preparing. The proposer fills the id,
// playback id and creation time.
type CreateAsset struct{ Asset state.Asset }

// AssetMedia is what an edge learns about an asset while preparing it;
// nil fields stay as they are.
type AssetMedia struct {
	Duration     *float64           `json:",omitempty"`
	Size         *int64             `json:",omitempty"`
	SHA256       *string            `json:",omitempty"`
	Tracks       *[]state.Track     `json:",omitempty"`
	Renditions   *[]state.Rendition `json:",omitempty"`
	ObjectPrefix *string            `json:",omitempty"`
	SourceKey    *string            `json:",omitempty"`
	Thumbnail    *string            `json:",omitempty"`
	Storyboard   *state.Storyboard  `json:",omitempty"`
	Progress     *float64           `json:",omitempty"`
}

// UpdateAsset changes an asset of an org ("" for any org).
type UpdateAsset struct {
	OrgID, ID      string
	PlaybackPolicy *string `json:",omitempty"`
	Media          AssetMedia
	At             time.Time
}

// DeleteAsset removes an asset of an org. Its unfinished jobs are
// cancelled (at once when queued, at the next renewal when running).
type DeleteAsset struct {
	OrgID, ID string
	At        time.Time
}

// SetAssetReady records the final media of an asset and makes it
// playable. It may follow errored (a later job succeeded) and may repeat.
type SetAssetReady struct {
	OrgID, ID string
	Media     AssetMedia
	At        time.Time
}

// SetAssetErrored marks a preparing asset as failed; a ready asset stays
// ready (a late failure of one job does not unmake good media).
type SetAssetErrored struct {
	OrgID, ID string
	Error     string
	At        time.Time
}

func validAsset(a state.Asset) error {
	switch a.Type {
	case state.AssetRecording, state.AssetUpload, state.AssetClip:
	default:
		return state.Invalid("asset type must be recording, upload or clip")
	}
	switch a.Status {
	case state.AssetPreparing, state.AssetReady, state.AssetErrored:
	default:
		return state.Invalid("unknown asset status %q", a.Status)
	}
	if !slices.Contains(state.PlaybackPolicies(), a.PlaybackPolicy) {
		return state.Invalid("playback_policy must be one of %s", strings.Join(state.PlaybackPolicies(), ", "))
	}
	if a.PlaybackID == "" || len(a.PlaybackID) > 64 {
		return state.Invalid("asset playback id must be 1 to 64 characters")
	}
	if a.Duration < 0 || a.Size < 0 || a.Progress < 0 || a.Progress > 100 {
		return state.Invalid("duration and size must not be negative, progress must be 0 to 100")
	}
	if a.SHA256 != "" {
		if b, err := hex.DecodeString(a.SHA256); err != nil || len(b) != 32 {
			return state.Invalid("sha256 must be 64 hex digits")
		}
	}
	for _, t := range a.Tracks {
		if t.Type != "video" && t.Type != "audio" {
			return state.Invalid("track type must be video or audio")
		}
	}
	for _, r := range a.Renditions {
		if r.Name == "" || r.Bandwidth < 0 {
			return state.Invalid("a rendition needs a name and a non-negative bandwidth")
		}
	}
	if len(a.Error) > MaxJobError {
		return state.Invalid("asset error is over %d bytes", MaxJobError)
	}
	return nil
}

// orgAsset returns an asset of an org; another org's asset is not found.
func orgAsset(tx *state.Tx, orgID, id string) (state.Asset, error) {
	a, err := tx.Asset(id)
	if err != nil || (orgID != "" && a.OrgID != orgID) {
		return state.Asset{}, state.NotFound("asset %s", id)
	}
	return a, nil
}

func (m AssetMedia) apply(a *state.Asset) {
	if m.Duration != nil {
		a.Duration = *m.Duration
	}
	if m.Size != nil {
		a.Size = *m.Size
	}
	if m.SHA256 != nil {
		a.SHA256 = *m.SHA256
	}
	if m.Tracks != nil {
		a.Tracks = *m.Tracks
	}
	if m.Renditions != nil {
		a.Renditions = *m.Renditions
	}
	if m.ObjectPrefix != nil {
		a.ObjectPrefix = *m.ObjectPrefix
	}
	if m.SourceKey != nil {
		a.SourceKey = *m.SourceKey
	}
	if m.Thumbnail != nil {
		a.Thumbnail = *m.Thumbnail
	}
	if m.Storyboard != nil {
		sb := *m.Storyboard
		a.Storyboard = &sb
	}
	if m.Progress != nil {
		a.Progress = *m.Progress
	}
}

// assetProgress mirrors a job's progress onto the preparing asset it
// produces, so a client watching the asset sees it move.
func assetProgress(tx *state.Tx, assetID string, percent float64, now time.Time) error {
	if assetID == "" {
		return nil
	}
	a, err := tx.Asset(assetID)
	if state.IsNotFound(err) || err == nil && a.Status != state.AssetPreparing {
		return nil
	} else if err != nil {
		return err
	}
	a.Progress, a.UpdatedAt = percent, now
	return tx.PutAsset(a)
}

func (f *FSM) registerAssets() {
	handle(f, CmdCreateAsset, func(tx *state.Tx, c CreateAsset) (any, error) {
		a := c.Asset
		if a.ID == "" || len(a.ID) > 64 {
			return nil, state.Invalid("asset id must be 1 to 64 characters")
		}
		if !validTime(a.CreatedAt) {
			return nil, state.Invalid("asset needs a creation time")
		}
		a.Status, a.Error, a.ReadyAt, a.UpdatedAt = state.AssetPreparing, "", nil, a.CreatedAt
		if err := validAsset(a); err != nil {
			return nil, err
		}
		if _, err := tx.Org(a.OrgID); err != nil {
			return nil, err
		}
		if _, err := tx.Asset(a.ID); err == nil {
			return nil, state.Conflict("asset %s already exists", a.ID)
		}
		if a.Type == state.AssetClip && a.SourceAssetID == "" && a.StreamID == "" {
			return nil, state.Invalid("a clip needs a source asset or a stream")
		}
		if a.SourceAssetID != "" {
			if _, err := orgAsset(tx, a.OrgID, a.SourceAssetID); err != nil {
				return nil, err
			}
		}
		if a.StreamID != "" {
			if _, err := orgStream(tx, a.OrgID, a.StreamID); err != nil {
				return nil, err
			}
		}
		if a.SessionID != "" {
			if s, err := tx.Session(a.SessionID); err != nil || s.OrgID != a.OrgID {
				return nil, state.NotFound("session %s", a.SessionID)
			}
		}
		if err := tx.PutAsset(a); err != nil {
			return nil, err
		}
		return a, emitAssetCreated(tx, a)
	})

	handle(f, CmdUpdateAsset, func(tx *state.Tx, c UpdateAsset) (any, error) {
		if !validTime(c.At) {
			return nil, state.Invalid("update_asset needs a time")
		}
		a, err := orgAsset(tx, c.OrgID, c.ID)
		if err != nil {
			return nil, err
		}
		if c.PlaybackPolicy != nil {
			a.PlaybackPolicy = *c.PlaybackPolicy
		}
		c.Media.apply(&a)
		if err := validAsset(a); err != nil {
			return nil, err
		}
		a.UpdatedAt = c.At
		return a, tx.PutAsset(a)
	})

	handle(f, CmdDeleteAsset, func(tx *state.Tx, c DeleteAsset) (any, error) {
		if !validTime(c.At) {
			return nil, state.Invalid("delete_asset needs a time")
		}
		if _, err := orgAsset(tx, c.OrgID, c.ID); err != nil {
			return nil, err
		}
		if err := tx.DeleteAsset(c.ID); err != nil {
			return nil, err
		}
		jobs, err := tx.JobsOfAsset(c.ID)
		if err != nil {
			return nil, err
		}
		for _, j := range jobs {
			if j.Terminal() {
				continue
			}
			if err := cancelJob(tx, &j, c.At); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})

	handle(f, CmdSetAssetReady, func(tx *state.Tx, c SetAssetReady) (any, error) {
		if !validTime(c.At) {
			return nil, state.Invalid("set_asset_ready needs a time")
		}
		a, err := orgAsset(tx, c.OrgID, c.ID)
		if err != nil {
			return nil, err
		}
		c.Media.apply(&a)
		wasReady := a.Status == state.AssetReady
		a.Status, a.Error, a.Progress, a.UpdatedAt = state.AssetReady, "", 100, c.At
		if a.ReadyAt == nil {
			at := c.At
			a.ReadyAt = &at
		}
		if err := validAsset(a); err != nil {
			return nil, err
		}
		if err := tx.PutAsset(a); err != nil || wasReady {
			return a, err
		}
		return a, emitAsset(tx, a, state.EventAssetReady, c.At, map[string]any{"duration": a.Duration})
	})

	handle(f, CmdSetAssetErrored, func(tx *state.Tx, c SetAssetErrored) (any, error) {
		if !validTime(c.At) {
			return nil, state.Invalid("set_asset_errored needs a time")
		}
		a, err := orgAsset(tx, c.OrgID, c.ID)
		if err != nil {
			return nil, err
		}
		if a.Status == state.AssetReady {
			return nil, state.Conflict("asset %s is ready", a.ID)
		}
		if c.Error == "" {
			return nil, state.Invalid("an errored asset needs an error")
		}
		a.Status, a.Error, a.UpdatedAt = state.AssetErrored, c.Error, c.At
		if err := validAsset(a); err != nil {
			return nil, err
		}
		if err := tx.PutAsset(a); err != nil {
			return nil, err
		}
		return a, emitAsset(tx, a, state.EventAssetErrored, c.At, map[string]string{"error": a.Error})
	})
}
