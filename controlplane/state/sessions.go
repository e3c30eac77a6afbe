package state

import "time"

// SourceInfo describes what the publisher sent.
type SourceInfo struct {
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FPS        float64 `json:"fps,omitempty"`
	HasAudio   bool    `json:"has_audio"`
	HasVideo   bool    `json:"has_video"`
	VideoCodec string  `json:"video_codec,omitempty"`
	AudioCodec string  `json:"audio_codec,omitempty"`
}

// Session is one publish of a stream on one edge.
type Session struct {
	ID       string `json:"id"`
	StreamID string `json:"stream_id"`
	OrgID    string `json:"org_id"`
	EdgeID   string `json:"edge_id"`
	Protocol string `json:"protocol"`
	// RemoteAddr is the publisher's address as the edge saw it.
	RemoteAddr string      `json:"remote_addr,omitempty"`
	StartedAt  time.Time   `json:"started_at"`
	EndedAt    *time.Time  `json:"ended_at,omitempty"`
	EndReason  string      `json:"end_reason,omitempty"`
	Source     *SourceInfo `json:"source,omitempty"`
}

// Session returns one session.
func (t *Tx) Session(id string) (Session, error) {
	var s Session
	ok, err := t.get(bSessions, id, &s)
	if err == nil && !ok {
		err = NotFound("session %s", id)
	}
	return s, err
}

// Sessions lists sessions matching keep, in id order.
func (t *Tx) Sessions(keep func(Session) bool) ([]Session, error) {
	var out []Session
	err := scan(t, bSessions, "", func(s Session) bool {
		if keep == nil || keep(s) {
			out = append(out, s)
		}
		return true
	})
	return out, err
}

// PutSession stores a session.
func (t *Tx) PutSession(s Session) error { return t.put(bSessions, s.ID, s) }
