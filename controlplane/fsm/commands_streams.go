package fsm

import (
	"slices"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Stream command types.
const (
	CmdCreateStream   = "create_stream"
	CmdUpdateStream   = "update_stream"
	CmdDeleteStream   = "delete_stream"
	CmdResetStreamKey = "reset_stream_key"
)

// UpdateStream changes a stream's settings; nil fields stay as they are.
type UpdateStream struct {
	OrgID, ID      string
	Name           *string
	PlaybackPolicy *string
	Recording      *bool
	LatencyMode    *string
	DVRWindow      *int
	Disabled       *bool
	// AutoCaptions and CaptionsLanguage go together: captions on need a
	// language.
	AutoCaptions     *bool
	CaptionsLanguage *string
	// SRTPassphraseSealed is the new passphrase sealed by the proposer;
	// "" removes it.
	SRTPassphraseSealed *string
	At                  time.Time
}

// DeleteStream removes a stream of an org.
type DeleteStream struct{ OrgID, ID string }

// ResetStreamKey replaces a stream's key; the old key stops working at once.
type ResetStreamKey struct {
	OrgID, ID          string
	KeyHash, KeySealed string
	At                 time.Time
}

func validStream(s state.Stream) error {
	if s.Name == "" || len(s.Name) > 200 {
		return state.Invalid("stream name must be 1 to 200 characters")
	}
	if !slices.Contains(state.PlaybackPolicies(), s.PlaybackPolicy) {
		return state.Invalid("playback_policy must be one of %s", strings.Join(state.PlaybackPolicies(), ", "))
	}
	if !slices.Contains(state.LatencyModes(), s.LatencyMode) {
		return state.Invalid("latency_mode must be one of %s", strings.Join(state.LatencyModes(), ", "))
	}
	if s.DVRWindow != 0 && (s.DVRWindow < state.MinDVRWindow || s.DVRWindow > state.MaxDVRWindow) {
		return state.Invalid("dvr_window must be 0 (the default) or %d to %d seconds", state.MinDVRWindow, state.MaxDVRWindow)
	}
	if s.CaptionsLanguage != "" {
		if err := objstore.CheckLanguage(s.CaptionsLanguage); err != nil {
			return state.Invalid("captions_language %q must be a language tag such as en or pt-BR", s.CaptionsLanguage)
		}
	}
	if s.AutoCaptions && s.CaptionsLanguage == "" {
		return state.Invalid("auto_captions needs a captions_language")
	}
	return nil
}

func orgStream(tx *state.Tx, orgID, id string) (state.Stream, error) {
	s, err := tx.Stream(id)
	if err != nil || (orgID != "" && s.OrgID != orgID) {
		return state.Stream{}, state.NotFound("stream %s", id)
	}
	return s, nil
}

func (f *FSM) registerStreams() {
	handle(f, CmdCreateStream, func(tx *state.Tx, s state.Stream) (any, error) {
		if _, err := tx.Org(s.OrgID); err != nil {
			return nil, err
		}
		if err := validStream(s); err != nil {
			return nil, err
		}
		if _, err := tx.Stream(s.ID); err == nil {
			return nil, state.Conflict("stream %s already exists", s.ID)
		}
		if _, err := tx.StreamByKeyHash(s.KeyHash); err == nil {
			return nil, state.Conflict("stream key collision")
		}
		s.Status = state.StreamIdle
		return s, tx.PutStream(s)
	})
	handle(f, CmdUpdateStream, func(tx *state.Tx, c UpdateStream) (any, error) {
		s, err := orgStream(tx, c.OrgID, c.ID)
		if err != nil {
			return nil, err
		}
		if c.Name != nil {
			s.Name = *c.Name
		}
		if c.PlaybackPolicy != nil {
			s.PlaybackPolicy = *c.PlaybackPolicy
		}
		if c.Recording != nil {
			s.Recording = *c.Recording
		}
		if c.LatencyMode != nil {
			s.LatencyMode = *c.LatencyMode
		}
		if c.DVRWindow != nil {
			s.DVRWindow = *c.DVRWindow
		}
		if c.Disabled != nil {
			s.Disabled = *c.Disabled
		}
		if c.AutoCaptions != nil {
			s.AutoCaptions = *c.AutoCaptions
		}
		if c.CaptionsLanguage != nil {
			s.CaptionsLanguage = *c.CaptionsLanguage
		}
		if c.SRTPassphraseSealed != nil {
			s.SRTPassphraseSealed = *c.SRTPassphraseSealed
		}
		if err := validStream(s); err != nil {
			return nil, err
		}
		s.UpdatedAt = c.At
		return s, tx.PutStream(s)
	})
	handle(f, CmdDeleteStream, func(tx *state.Tx, c DeleteStream) (any, error) {
		if _, err := orgStream(tx, c.OrgID, c.ID); err != nil {
			return nil, err
		}
		return nil, tx.DeleteStream(c.ID)
	})
	handle(f, CmdResetStreamKey, func(tx *state.Tx, c ResetStreamKey) (any, error) {
		s, err := orgStream(tx, c.OrgID, c.ID)
		if err != nil {
			return nil, err
		}
		if _, err := tx.StreamByKeyHash(c.KeyHash); err == nil {
			return nil, state.Conflict("stream key collision")
		}
		s.KeyHash, s.KeySealed, s.KeyResetAt, s.UpdatedAt = c.KeyHash, c.KeySealed, c.At, c.At
		return s, tx.PutStream(s)
	})
}
