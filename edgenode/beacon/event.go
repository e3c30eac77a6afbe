package beacon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Event types the player sends.
const (
	// EventViewStart opens a view: the player was given a source.
	EventViewStart = "view_start"
	// EventFirstFrame: MS is the time from view start to the first frame.
	EventFirstFrame = "first_frame"
	// EventRebuffer: playback stalled for MS after it had started.
	EventRebuffer = "rebuffer"
	// EventBitrate: the player switched to another rendition (Bitrate bps).
	EventBitrate = "bitrate_switch"
	// EventError: an error (Fatal ends the view).
	EventError = "error"
	// EventHeartbeat: the view is playing; MS is the time watched since the
	// previous heartbeat or view_end.
	EventHeartbeat = "heartbeat"
	// EventViewEnd closes a view; MS is the time watched since the previous
	// heartbeat.
	EventViewEnd = "view_end"
)

// Limits on one batch.
const (
	// MaxBody is the largest body accepted.
	MaxBody = 16 << 10
	// MaxEvents is the most events in one batch.
	MaxEvents = 200
	// MaxMS bounds a duration in an event: an hour.
	MaxMS = 3600_000
	maxID = 64
)

// Event is one beacon event, as the player sends it in a JSON array.
type Event struct {
	ViewID     string  `json:"view_id"`
	PlaybackID string  `json:"playback_id"`
	Type       string  `json:"type"`
	MS         float64 `json:"ms,omitempty"`
	Bitrate    int64   `json:"bitrate,omitempty"`
	Fatal      bool    `json:"fatal,omitempty"`
	Code       string  `json:"code,omitempty"`
}

// ErrMalformed is returned for a body that is not a JSON array of events.
var ErrMalformed = errors.New("beacon: malformed body")

// Parse decodes a batch. A body that is not a JSON array of objects, or has
// more than MaxEvents, is ErrMalformed; events that are well-formed JSON
// but not valid (unknown type, bad id, duration out of range) are left out
// and counted in skipped.
func Parse(body []byte) (events []Event, skipped int, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '[' {
		return nil, 0, ErrMalformed
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(raw) > MaxEvents {
		return nil, 0, fmt.Errorf("%w: %d events, at most %d", ErrMalformed, len(raw), MaxEvents)
	}
	events = make([]Event, 0, len(raw))
	for _, r := range raw {
		var e Event
		if json.Unmarshal(r, &e) != nil || !e.valid() {
			skipped++
			continue
		}
		events = append(events, e)
	}
	return events, skipped, nil
}

func (e Event) valid() bool {
	if !validID(e.ViewID) || !validID(e.PlaybackID) || len(e.Code) > maxID {
		return false
	}
	if math.IsNaN(e.MS) || e.MS < 0 || e.MS > MaxMS || e.Bitrate < 0 {
		return false
	}
	switch e.Type {
	case EventViewStart, EventFirstFrame, EventRebuffer, EventBitrate, EventError, EventHeartbeat, EventViewEnd:
		return true
	}
	return false
}

// validID admits the characters of ids, playback ids and the player's
// random view ids.
func validID(s string) bool {
	if s == "" || len(s) > maxID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
